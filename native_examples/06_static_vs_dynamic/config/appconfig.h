// appconfig.h - a config-loading library (a shared library), in the role of the
// part of a web framework that reads its JSON config file with jsoncpp.
#pragma once
#include <cstddef>
#include <string>

// Parse a JSON config file and keep it inside the library. false on error.
bool config_load(const char *path);
void config_unload();

// THE PROBLEM: the string value of app.<key>, returned by value. Its buffer is
// allocated here (in the library, by whatever operator new the library binds to)
// and freed by the caller's std::string destructor (the caller's operator delete).
std::string config_string(const char *key);

// A string of n 'x' made inside the library, to show the small-string optimisation.
std::string config_make_string(std::size_t n);

// Like a framework's addListener: the library copies what it needs into its own
// list and frees it itself. No ownership crosses the boundary.
void add_listener(const std::string &address, int port);
std::size_t listener_count();
void clear_listeners();

// Who serves the library's allocations: a block made with the library's new.
void *config_probe_alloc(std::size_t n);
void config_probe_free(void *p);

// THE FIX (exercise 2): the caller gets a view and gives it back to the library,
// which frees what it allocated. Implemented in a separate file (fix_*.cpp).
struct ConfigText {
    const char *data;   // the value's characters (not necessarily NUL-terminated)
    std::size_t size;   // how many
    void *handle;       // whatever the library needs to release it
};
ConfigText config_text(const char *key);
void config_text_release(ConfigText text);
