/* Generated from crates/oxbridge-ffi and oxbridge-c (cbindgen) and the exported functions' definitions. Do not edit: run `make header`. */

#ifndef OXBRIDGE_H
#define OXBRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Bumped whenever a signature or struct in this header changes.
#define OXB_ABI_VERSION 4

// A byte string owned by this library (UTF-8, not NUL-terminated).
// Release it with [`oxb_string_free`]; `{NULL, 0}` is the empty value.
typedef struct {
  // First byte, or null when empty.
  uint8_t *ptr;
  // Number of bytes.
  size_t len;
} OxbString;

// An array of `double` owned by this library: release it with `oxb_f64_array_free`.
typedef struct {
  // First element, or null when empty.
  double *ptr;
  // Number of elements.
  size_t len;
} OxbF64Array;

// An array of `int64_t` owned by this library: release it with `oxb_i64_array_free`.
typedef struct {
  // First element, or null when empty.
  int64_t *ptr;
  // Number of elements.
  size_t len;
} OxbI64Array;

// A complex number: the layout of C's `double _Complex` and numpy's complex128.
typedef struct {
  // Real part.
  double re;
  // Imaginary part.
  double im;
} OxbComplex;

// An array of complex owned by this library: release it with `oxb_complex_array_free`.
typedef struct {
  // First element, or null when empty.
  OxbComplex *ptr;
  // Number of elements.
  size_t len;
} OxbComplexArray;

// Status code returned by every `oxb_*` function.
typedef int32_t OxbStatus;

// A text argument: UTF-8 bytes (not NUL-terminated; NUL bytes allowed).
typedef struct {
  // First element, or null when empty.
  const uint8_t *ptr;
  // Number of elements.
  size_t len;
} OxbStr;

// A bytes argument.
typedef struct {
  // First element, or null when empty.
  const uint8_t *ptr;
  // Number of elements.
  size_t len;
} OxbBytes;

// An array of `double` argument.
typedef struct {
  // First element, or null when empty.
  const double *ptr;
  // Number of elements.
  size_t len;
} OxbF64s;

// An array of `int64_t` argument.
typedef struct {
  // First element, or null when empty.
  const int64_t *ptr;
  // Number of elements.
  size_t len;
} OxbI64s;

// An array of complex argument.
typedef struct {
  // First element, or null when empty.
  const OxbComplex *ptr;
  // Number of elements.
  size_t len;
} OxbComplexes;

// One argument of `oxb_many`: elements of the parameter's type (`OxbComplex`,
// `double` or `int64_t`, as the function declares it), either one per result
// or, with `one_for_all`, a single value that applies to every element.
typedef struct {
  // First element; null only when `len` is 0.
  const void *ptr;
  // Number of elements (ignored, and taken as 1, when `one_for_all`).
  size_t len;
  // Whether the one element at `ptr` applies to every result.
  bool one_for_all;
} OxbColumn;

// Success.
#define OXB_OK 0

// Division by zero.
#define OXB_ZERO_DIVISION 1

// A bad argument: null pointer, invalid UTF-8, unknown operation.
#define OXB_INVALID_ARGUMENT 2

// A fault inside oxbridge (a caught panic). Please report it.
#define OXB_INTERNAL 3

// A result too large to represent.
#define OXB_OVERFLOW 4

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// The ABI version of this library; compare with [`OXB_ABI_VERSION`] of the
// header the caller was built against.
uint32_t oxb_abi_version(void);

// Releases a string this library returned. `{NULL, 0}` is accepted and does
// nothing; freeing the same string twice is the caller's bug, as with `free`.
//
// # Safety
// `s` came from this library and was not freed before.
void oxb_string_free(OxbString s);

// Releases an array this library returned; `{NULL, 0}` does nothing.
//
// # Safety
// `a` came from this library and is released once.
void oxb_f64_array_free(OxbF64Array a);

// Releases an array this library returned; `{NULL, 0}` does nothing.
//
// # Safety
// `a` came from this library and is released once.
void oxb_i64_array_free(OxbI64Array a);

// Releases an array this library returned; `{NULL, 0}` does nothing.
//
// # Safety
// `a` came from this library and is released once.
void oxb_complex_array_free(OxbComplexArray a);

// The article's entry point, kept so its ctypes client works unchanged:
// `compute("add" | "sub" | "mul" | "div", a, b)`, the article's four commands
// and no others. It cannot report errors, so an unknown or null command,
// invalid UTF-8 or a zero divisor gives NaN parts.
//
// # Safety
// `command` is null or a NUL-terminated string.
OxbComplex compute(const char *command, OxbComplex a, OxbComplex b);

// One function per exported function, generated from its definition.

// `a + b`, exactly as Python computes it.
OxbStatus oxb_add(OxbComplex a,
                  OxbComplex b,
                  OxbComplex *out,
                  OxbString *err);

// `a - b`, exactly as Python computes it.
OxbStatus oxb_sub(OxbComplex a,
                  OxbComplex b,
                  OxbComplex *out,
                  OxbString *err);

// `a * b`, exactly as Python computes it (the schoolbook formula, no rescaling).
OxbStatus oxb_mul(OxbComplex a,
                  OxbComplex b,
                  OxbComplex *out,
                  OxbString *err);

// `a / b`, exactly as Python computes it; a zero divisor raises.
//
// Smith's algorithm, dividing through by the larger of the divisor's
// parts so that neither overflow nor underflow happens where the true
// quotient is representable.
OxbStatus oxb_div(OxbComplex a,
                  OxbComplex b,
                  OxbComplex *out,
                  OxbString *err);

// `a ** b`, exactly as Python computes it for complex numbers.
//
// An integral real exponent up to 100 in size takes CPython's repeated
// squaring; any other exponent its polar formula. Zero to a negative or
// complex power raises, as does a result with an infinite part.
OxbStatus oxb_pow(OxbComplex a,
                  OxbComplex b,
                  OxbComplex *out,
                  OxbString *err);

// `abs(z)`, exactly as Python computes it: a float; a finite `z` whose
// magnitude overflows raises.
OxbStatus oxb_abs(OxbComplex z,
                  double *out,
                  OxbString *err);

// `f"{greeting}, {name}"`, for any Unicode text (empty, NUL, emoji included).
OxbStatus oxb_greet(OxbStr greeting,
                    OxbStr name,
                    OxbString *out,
                    OxbString *err);

// `out[i] = function(args[0][i], args[1][i], ...)` for `i < out_len`: the
// vectorized form of a numeric function, element for element exactly the
// scalar function; large arrays are spread over the cores. Each column holds
// elements of its parameter's type, and `out` of the result's; every column
// that is not `one_for_all` has `out_len` elements. On failure the message
// names the first failing element's index, and `out` holds unspecified values.
OxbStatus oxb_many(OxbStr function,
                   const OxbColumn *args,
                   size_t nargs,
                   void *out,
                   size_t out_len,
                   OxbString *err);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* OXBRIDGE_H */
