// fix_start.cpp - the starting point of exercise 2: config_text as a thin wrapper
// of config_string. It runs, but its release does nothing: every call leaks.
#include "appconfig.h"

#include <json/json.h>

#include <string>

const Json::Value &config_app_value(const char *key);   // from appconfig.cpp

ConfigText config_text(const char *key)
{
    std::string *s = new std::string(config_string(key));
    return ConfigText{s->data(), s->size(), nullptr};
}

void config_text_release(ConfigText) {}
