/* Exercises the C ABI as a C user would: compiled against the generated
 * header, linked to liboxbridge. Exits non-zero on the first failed check. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "oxbridge.h"

static OxbComplex C(double re, double im) { return (OxbComplex){re, im}; }
static OxbStr S(const void *ptr, size_t len) { return (OxbStr){(const uint8_t *)ptr, len}; }

static int failures = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                 \
      failures++;                                                     \
    }                                                                 \
  } while (0)

static int string_is(OxbString s, const char *expected, size_t len) {
  return s.len == len && (len == 0 || memcmp(s.ptr, expected, len) == 0);
}

int main(void) {
  OxbComplex out = {0, 0};
  OxbString err = {NULL, 0};

  CHECK(oxb_abi_version() == OXB_ABI_VERSION);

  /* The article's example, and its own entry point. */
  CHECK(oxb_add(C(1, 3), C(0, -5), &out, NULL) == OXB_OK);
  CHECK(out.re == 1 && out.im == -2);
  OxbComplex a = {1, 3}, b = {0, -5};
  OxbComplex sum = compute("add", a, b);
  CHECK(sum.re == 1 && sum.im == -2);
  OxbComplex unknown = compute("pow", a, b);
  CHECK(isnan(unknown.re) && isnan(unknown.im));
  OxbComplex null_command = compute(NULL, a, b);
  CHECK(isnan(null_command.re));

  /* Division by zero: a status and an owned message, freed by the library. */
  CHECK(oxb_div(C(1, 1), C(0, 0), &out, &err) == OXB_ZERO_DIVISION);
  const char *zd = "complex division by zero";
  CHECK(string_is(err, zd, strlen(zd)));
  oxb_string_free(err);
  /* ... and with a null err pointer, just the status. */
  CHECK(oxb_div(C(1, 1), C(0, 0), &out, NULL) == OXB_ZERO_DIVISION);

  /* Null out-parameter: refused, not a crash. */
  err = (OxbString){NULL, 0};
  CHECK(oxb_mul(C(1, 1), C(1, 1), NULL, &err) == OXB_INVALID_ARGUMENT);
  oxb_string_free(err);

  /* Strings are pointer + length: NUL bytes survive. */
  OxbString greeting = {NULL, 0};
  const uint8_t g[] = {'a', 0, 'b'};
  const uint8_t n[] = {'x'};
  CHECK(oxb_greet(S(g, sizeof g), S(n, sizeof n), &greeting, NULL) == OXB_OK);
  CHECK(string_is(greeting, "a\0b, x", 6));
  oxb_string_free(greeting);

  /* Empty strings may be null pointers; the result is empty-safe. */
  CHECK(oxb_greet(S(NULL, 0), S(NULL, 0), &greeting, NULL) == OXB_OK);
  CHECK(string_is(greeting, ", ", 2));
  oxb_string_free(greeting);

  /* Invalid UTF-8 and a null pointer with a length are invalid arguments. */
  const uint8_t bad[] = {0xff, 0xfe};
  err = (OxbString){NULL, 0};
  CHECK(oxb_greet(S(g, sizeof g), S(bad, sizeof bad), &greeting, &err) == OXB_INVALID_ARGUMENT);
  const char *iu = "argument 'name' is not valid UTF-8 text";
  CHECK(string_is(err, iu, strlen(iu)));
  oxb_string_free(err);
  err = (OxbString){NULL, 0};
  CHECK(oxb_greet(S(NULL, 5), S(n, 1), &greeting, &err) == OXB_INVALID_ARGUMENT);
  oxb_string_free(err);
  CHECK(oxb_greet(S(g, 1), S(n, 1), NULL, NULL) == OXB_INVALID_ARGUMENT);

  /* Batches: elementwise equal to the scalar call; errors own a message. */
  OxbComplex xs[3] = {{1, 2}, {3, -4}, {-0.0, 5}};
  OxbComplex ys[3] = {{2, 0}, {0, 1}, {1, 1}};
  OxbComplex zs[3];
  OxbStr mul = {(const uint8_t *)"mul", 3}, div = {(const uint8_t *)"div", 3};
  OxbStr add = {(const uint8_t *)"add", 3}, abs_ = {(const uint8_t *)"abs", 3};
  OxbColumn each_xy[2] = {{xs, 3, false}, {ys, 3, false}};
  CHECK(oxb_many(mul, each_xy, 2, zs, 3, NULL) == OXB_OK);
  for (int i = 0; i < 3; i++) {
    OxbComplex one;
    CHECK(oxb_mul(xs[i], ys[i], &one, NULL) == OXB_OK);
    CHECK(memcmp(&one, &zs[i], sizeof one) == 0);
  }
  OxbComplex zero = {0.0, 0.0};
  OxbColumn by_zero[2] = {{xs, 3, false}, {&zero, 1, true}};
  err = (OxbString){NULL, 0};
  CHECK(oxb_many(div, by_zero, 2, zs, 3, &err) == OXB_ZERO_DIVISION);
  const char *zd0 = "complex division by zero at index 0";
  CHECK(string_is(err, zd0, strlen(zd0)));
  oxb_string_free(err);
  OxbColumn short_y[2] = {{xs, 3, false}, {ys, 2, false}};
  err = (OxbString){NULL, 0};
  CHECK(oxb_many(add, short_y, 2, zs, 3, &err) == OXB_INVALID_ARGUMENT);
  oxb_string_free(err);
  CHECK(oxb_many(add, each_xy, 2, xs, 3, NULL) == OXB_INVALID_ARGUMENT); /* out overlaps a */
  OxbStr unknown_op = {(const uint8_t *)"no-such-op", 10};
  CHECK(oxb_many(unknown_op, each_xy, 2, zs, 3, NULL) == OXB_INVALID_ARGUMENT);
  OxbColumn null_x[2] = {{NULL, 3, false}, {ys, 3, false}};
  CHECK(oxb_many(add, null_x, 2, zs, 3, NULL) == OXB_INVALID_ARGUMENT);
  /* abs: complex in, double out. */
  double norms[3];
  CHECK(oxb_many(abs_, each_xy, 1, norms, 3, NULL) == OXB_OK);
  CHECK(norms[1] == 5.0); /* abs(3-4j) */

  /* Freeing the empty string is a no-op. */
  oxb_string_free((OxbString){NULL, 0});

  if (failures == 0) {
    printf("C ABI: all checks passed\n");
  }
  return failures == 0 ? 0 : 1;
}
