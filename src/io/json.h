/* JSON through cJSON (Debian's libcjson), with errors that name file, line and column. */
#ifndef GTA_IO_JSON_H
#define GTA_IO_JSON_H

#include <cjson/cJSON.h>

/* Parses the file at path. On failure: GTA_EINPUT, message "path:line:col: ...". */
int gta_json_load(const char *path, cJSON **out);
/* Parses text; name is used in messages. */
int gta_json_parse(const char *name, const char *text, size_t len, cJSON **out);

/* Typed field access. Each returns GTA_EINPUT with "file: field 'key': expected ..."
 * when the field has the wrong type; a missing field leaves *out unchanged and returns
 * GTA_OK for the _opt forms and GTA_EINPUT for the _req forms. */
int gta_json_int_opt(const char *file, const cJSON *obj, const char *key, long long *out);
int gta_json_int_req(const char *file, const cJSON *obj, const char *key, long long *out);
int gta_json_num_opt(const char *file, const cJSON *obj, const char *key, double *out);
int gta_json_bool_opt(const char *file, const cJSON *obj, const char *key, int *out);
int gta_json_str_opt(const char *file, const cJSON *obj, const char *key, const char **out);

/* A number item that prints as the shortest text reading back as exactly v (cJSON's own
 * printing keeps 15 digits); null for a non-finite v. */
cJSON *gta_json_number(double v);

#endif
