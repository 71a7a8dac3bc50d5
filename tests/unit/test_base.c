#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/str.h"
#include "base/util.h"
#include "io/json.h"

static void test_json_error_position(void **state) {
    (void)state;
    cJSON *j = NULL;
    const char *text = "{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}";
    assert_int_equal(gta_json_parse("cfg.json", text, strlen(text), &j), GTA_EINPUT);
    assert_null(j);
    assert_non_null(strstr(gta_err_msg(), "cfg.json:3:"));
}

static void test_json_typed_fields(void **state) {
    (void)state;
    cJSON *j = NULL;
    const char *text = "{\"n\": 4, \"x\": 1.5, \"s\": \"hi\", \"b\": true}";
    assert_int_equal(gta_json_parse("t.json", text, strlen(text), &j), GTA_OK);
    long long n = 0;
    double x = 0;
    const char *s = NULL;
    int b = 0;
    assert_int_equal(gta_json_int_req("t.json", j, "n", &n), GTA_OK);
    assert_int_equal(n, 4);
    assert_int_equal(gta_json_int_req("t.json", j, "x", &n), GTA_EINPUT);
    assert_non_null(strstr(gta_err_msg(), "'x'"));
    assert_int_equal(gta_json_int_req("t.json", j, "missing", &n), GTA_EINPUT);
    assert_int_equal(gta_json_num_opt("t.json", j, "x", &x), GTA_OK);
    assert_true(x == 1.5);
    assert_int_equal(gta_json_str_opt("t.json", j, "s", &s), GTA_OK);
    assert_string_equal(s, "hi");
    assert_int_equal(gta_json_bool_opt("t.json", j, "b", &b), GTA_OK);
    assert_int_equal(b, 1);
    assert_int_equal(gta_json_bool_opt("t.json", j, "n", &b), GTA_EINPUT);
    cJSON_Delete(j);
}

/* gta_str: bytes (a NUL among them kept), printf text past the first allocation, take, free */
static void test_str(void **state) {
    (void)state;
    gta_str b = {0};
    char *empty = gta_str_take(&b);
    assert_string_equal(empty, "");
    free(empty);
    assert_null(b.s);
    gta_str_putn(&b, "ab\0c", 4);
    assert_int_equal(b.n, 4);
    assert_memory_equal(b.s, "ab\0c", 5);
    gta_str_putc(&b, 'd');
    gta_str_puts(&b, "ef");
    assert_int_equal(b.n, 7);
    assert_memory_equal(b.s, "ab\0cdef", 8);
    char big[301];
    memset(big, 'x', 300);
    big[300] = 0;
    gta_str_printf(&b, "[%d:%s:%.2f]", -42, big, 1.5);
    assert_int_equal(b.n, 7 + 3 + 1 + 300 + 1 + 4 + 1 + 1);
    assert_true(b.cap > b.n);
    assert_memory_equal(b.s + 7, "[-42:xxx", 8);
    assert_string_equal(b.s + b.n - 7, "x:1.50]");
    assert_int_equal(b.s[b.n], 0);
    gta_str_printf(&b, "%s", "");
    assert_int_equal(b.n, 7 + 3 + 1 + 300 + 1 + 4 + 1 + 1);
    size_t n = b.n;
    char *s = gta_str_take(&b);
    assert_int_equal(strlen(s + 8), n - 8);
    assert_null(b.s);
    assert_int_equal(b.n, 0);
    free(s);
    gta_str_puts(&b, "z");
    gta_str_free(&b);
    assert_null(b.s);
    assert_int_equal(b.cap, 0);
}

static void test_atomic_write(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *p = gta_path_join(dir, "f.bin");
    assert_int_equal(gta_write_file_atomic(p, "hello", 5), GTA_OK);
    char *data;
    size_t len;
    assert_int_equal(gta_read_file(p, &data, &len), GTA_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    free(data);
    char *bad = gta_path_join(dir, "no/such/dir/f.bin");
    assert_int_equal(gta_write_file_atomic(bad, "x", 1), GTA_EFAIL);
    assert_false(gta_file_exists(bad));
    free(bad);
    free(p);
    tu_rm_rf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_error_position),
        cmocka_unit_test(test_json_typed_fields),
        cmocka_unit_test(test_str),
        cmocka_unit_test(test_atomic_write),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
