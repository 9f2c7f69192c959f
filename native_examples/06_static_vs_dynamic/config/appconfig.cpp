// appconfig.cpp - the config library: jsoncpp underneath, as in Drogon.
#include "appconfig.h"

#include <json/json.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {
Json::Value *root;                                   // owned by the library
std::vector<std::pair<std::string, int>> listeners;  // owned by the library
}

// used by fix_*.cpp
const Json::Value &config_app_value(const char *key) { return (*root)["app"][key]; }

bool config_load(const char *path)
{
    std::ifstream in(path);
    if (!in) return false;
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::Value> value(new Json::Value);
    std::string errors;
    if (!Json::parseFromStream(builder, in, value.get(), &errors)) return false;
    delete root;
    root = value.release();
    return true;
}

void config_unload() { delete root; root = nullptr; }

std::string config_string(const char *key) { return (*root)["app"][key].asString(); }

std::string config_make_string(std::size_t n) { return std::string(n, 'x'); }

void add_listener(const std::string &address, int port) { listeners.emplace_back(address, port); }
std::size_t listener_count() { return listeners.size(); }
void clear_listeners() { listeners.clear(); listeners.shrink_to_fit(); }

void *config_probe_alloc(std::size_t n) { return new char[n]; }
void config_probe_free(void *p) { delete[] static_cast<char *>(p); }
