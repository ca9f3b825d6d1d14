/* Generated from crates/oxbridge-ffi (cbindgen) and the exported functions' definitions. Do not edit: run `make header`. */

#ifndef OXBRIDGE_H
#define OXBRIDGE_H

#include <stddef.h>
#include <stdint.h>

// Bumped whenever a signature or struct in this header changes.
#define OXB_ABI_VERSION 3

// A byte string owned by this library (UTF-8, not NUL-terminated).
// Release it with [`oxb_string_free`]; `{NULL, 0}` is the empty value.
typedef struct {
  // First byte, or null when empty.
  uint8_t *ptr;
  // Number of bytes.
  size_t len;
} OxbString;

// Status code returned by every `oxb_*` function.
typedef int32_t OxbStatus;

// Operation code of the batch functions.
typedef int32_t OxbOp;

// A complex number: the layout of C's `double _Complex` and numpy's complex128.
typedef struct {
  // Real part.
  double re;
  // Imaginary part.
  double im;
} OxbComplex;

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

// An array of complex owned by this library: release it with `oxb_complex_array_free`.
typedef struct {
  // First element, or null when empty.
  OxbComplex *ptr;
  // Number of elements.
  size_t len;
} OxbComplexArray;

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

// `a + b`
#define OXB_OP_ADD 0

// `a - b`
#define OXB_OP_SUB 1

// `a * b`
#define OXB_OP_MUL 2

// `a / b`
#define OXB_OP_DIV 3

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

// `out[i] = a[i] <op> b[i]` for `i < a_len`, exactly the scalar operation per
// element; large arrays are spread over the cores. `b_len` must equal `a_len`.
// On [`OXB_ZERO_DIVISION`] the message names the first zero divisor's index
// and `out` holds unspecified values.
//
// # Safety
// `a` and `b` point to `a_len` and `b_len` readable `OxbComplex` (null only
// when the length is 0); `out` points to `a_len` writable `OxbComplex` that
// overlap neither input; `err` is null or writable for one [`OxbString`].
OxbStatus oxb_many(OxbOp op,
                   const OxbComplex *a,
                   size_t a_len,
                   const OxbComplex *b,
                   size_t b_len,
                   OxbComplex *out,
                   OxbString *err);

// `out[i] = a[i] <op> b` for `i < len`, with one scalar `b`.
//
// # Safety
// As for [`oxb_many`], without `b`.
OxbStatus oxb_many_scalar(OxbOp op,
                          const OxbComplex *a,
                          size_t len,
                          double b_re,
                          double b_im,
                          OxbComplex *out,
                          OxbString *err);

// The article's entry point, kept so its ctypes client works unchanged:
// `compute("add" | "sub" | "mul" | "div", a, b)`. It cannot report errors, so an
// unknown or null command, invalid UTF-8 or a zero divisor gives NaN parts.
//
// # Safety
// `command` is null or a NUL-terminated string.
OxbComplex compute(const char *command, OxbComplex a, OxbComplex b);

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

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* OXBRIDGE_H */
