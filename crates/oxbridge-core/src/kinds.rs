//! The one table of error kinds. Every bridge takes an error's classification
//! from here: its wire name, the Python class (and that class's builtin base),
//! the HTTP status, the gRPC code and the C ABI status. Nothing else maps kinds.

macro_rules! error_kinds {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $code:literal {
            name: $name:literal,
            python: $python:literal ($base:literal),
            http: $http:literal,
            grpc: $grpc:literal $(,)?
        }
    )*) => {
        /// The stable classification of an error, shared by all bridges.
        /// The discriminant is the C ABI's status code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum ErrorKind {
            $( $(#[doc = $doc])* $variant = $code, )*
        }

        impl ErrorKind {
            /// Every kind, in status-code order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$variant),*];

            /// The wire name, used by the HTTP, IPC and gRPC bridges.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $(ErrorKind::$variant => $name,)* }
            }

            /// The name of the Python class raised for this kind (in `oxbridge.errors`).
            #[must_use]
            pub const fn python_class(self) -> &'static str {
                match self { $(ErrorKind::$variant => $python,)* }
            }

            /// The builtin exception the Python class also derives from.
            #[must_use]
            pub const fn python_base(self) -> &'static str {
                match self { $(ErrorKind::$variant => $base,)* }
            }

            /// The HTTP status of a problem+json reply of this kind.
            #[must_use]
            pub const fn http_status(self) -> u16 {
                match self { $(ErrorKind::$variant => $http,)* }
            }

            /// The gRPC status code (`google.rpc.Code`) of this kind.
            #[must_use]
            pub const fn grpc_code(self) -> i32 {
                match self { $(ErrorKind::$variant => $grpc,)* }
            }
        }
    };
}

error_kinds! {
    /// Division by zero, or zero to a negative or complex power.
    ZeroDivision = 1 {
        name: "zero_division",
        python: "OxbridgeZeroDivisionError" ("ZeroDivisionError"),
        http: 422,
        grpc: 3,
    }
    /// A bad argument value: invalid text, mismatched lengths, out of a function's domain.
    InvalidArgument = 2 {
        name: "invalid_argument",
        python: "InvalidArgumentError" ("ValueError"),
        http: 422,
        grpc: 3,
    }
    /// A fault of oxbridge itself, such as a caught panic.
    Internal = 3 {
        name: "internal",
        python: "InternalError" ("RuntimeError"),
        http: 500,
        grpc: 13,
    }
    /// A result too large to represent.
    Overflow = 4 {
        name: "overflow",
        python: "OxbridgeOverflowError" ("OverflowError"),
        http: 422,
        grpc: 11,
    }
    /// A request the server could not read: malformed JSON, wrong field types, a truncated frame.
    BadRequest = 5 {
        name: "bad_request",
        python: "InvalidArgumentError" ("ValueError"),
        http: 400,
        grpc: 3,
    }
    /// A request larger than the server's limit.
    PayloadTooLarge = 6 {
        name: "payload_too_large",
        python: "PayloadTooLargeError" ("ValueError"),
        http: 413,
        grpc: 8,
    }
    /// No such function, path or command.
    NotFound = 7 {
        name: "not_found",
        python: "NotFoundError" ("LookupError"),
        http: 404,
        grpc: 12,
    }
    /// The path exists, but not for the request's HTTP method.
    MethodNotAllowed = 8 {
        name: "method_not_allowed",
        python: "MethodNotAllowedError" ("ValueError"),
        http: 405,
        grpc: 12,
    }
    /// A body not of the media type the endpoint reads.
    UnsupportedMediaType = 9 {
        name: "unsupported_media_type",
        python: "UnsupportedMediaTypeError" ("ValueError"),
        http: 415,
        grpc: 3,
    }
    /// The caller may not use the server: a missing or wrong token, another user.
    PermissionDenied = 10 {
        name: "permission_denied",
        python: "AccessDeniedError" ("PermissionError"),
        http: 401,
        grpc: 16,
    }
    /// The client did not send its request in time.
    Timeout = 11 {
        name: "timeout",
        python: "BridgeTimeoutError" ("TimeoutError"),
        http: 408,
        grpc: 4,
    }
    /// The server cannot take the call now; the same call may succeed later.
    Unavailable = 12 {
        name: "unavailable",
        python: "ServerBusyError" ("ConnectionError"),
        http: 503,
        grpc: 14,
    }
}

impl ErrorKind {
    /// The numeric code, used by the C ABI as its status.
    #[must_use]
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The kind with this numeric [`code`](ErrorKind::code).
    #[must_use]
    pub fn from_code(code: i32) -> Option<Self> {
        let index = usize::try_from(code).ok()?.checked_sub(1)?;
        Self::ALL.get(index).copied()
    }

    /// The kind with this wire name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    #[test]
    fn names_and_codes_are_unique_and_codes_are_dense() {
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(-1), None);
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(kind.code(), i32::try_from(i).unwrap() + 1);
            assert_eq!(ErrorKind::from_name(kind.name()), Some(*kind));
            assert_eq!(ErrorKind::from_code(kind.code()), Some(*kind));
        }
    }
}
