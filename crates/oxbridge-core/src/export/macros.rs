//! `export!`: the one place a function is written.

/// Exports plain Rust functions as a [`Library`](crate::export::Library).
///
/// ```
/// use oxbridge_core::{export, CoreError, ErrorKind};
///
/// export! {
///     /// The library's name: the gRPC package and the Python module.
///     pub static LIBRARY = "example";
///
///     /// `a + b` on integers; the doc comment is the function's documentation.
///     #[raises(Overflow)]
///     pub fn checked_add(a: i64, b: i64) -> Result<i64, CoreError> {
///         a.checked_add(b).ok_or(CoreError::new(ErrorKind::Overflow, "integer overflow"))
///     }
///
///     /// Greets; the reply's field is `message`, not `result`.
///     #[result(message)]
///     pub fn hello(name: &str) -> String {
///         format!("hello, {name}")
///     }
/// }
///
/// let f = LIBRARY.get("checked_add").unwrap();
/// assert_eq!(f.params.len(), 2);
/// assert!(f.many.is_some()); // numeric: checked_add_many comes for free
/// assert!(LIBRARY.get("hello").unwrap().many.is_none());
/// ```
///
/// Arguments are `bool`, `i64`, `f64`, [`Complex`](crate::Complex), `&str`,
/// `&[u8]`, `&[f64]`, `&[i64]`, `&[Complex]`; results the same with owned
/// `String`, `Vec<u8>` and `Vec<_>`, or a `Result` of one with a
/// [`CoreError`](crate::CoreError).
#[macro_export]
macro_rules! export {
    (
        $(#[doc = $ldoc:literal])*
        $lvis:vis static $library:ident = $lname:literal $(, signatures $list:ident)?;
        $(
            $(#[doc = $doc:literal])*
            $(#[raises($($kind:ident),* $(,)?)])?
            $(#[result($field:ident)])?
            $vis:vis fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty $body:block
        )*
    ) => {
        $(
            $(#[doc = $doc])*
            #[inline]
            $vis fn $name($($arg: $ty),*) -> $ret $body
        )*

        $crate::export!(@signatures ($) $($list)? {
            $( $name ( $($arg : $ty),* ) -> $ret ; )*
        });

        $(#[doc = $ldoc])*
        $lvis static $library: $crate::export::Library = $crate::export::Library {
            name: $lname,
            version: env!("CARGO_PKG_VERSION"),
            functions: &[$(
                $crate::export::Function {
                    name: stringify!($name),
                    doc: concat!($($doc, "\n"),*),
                    params: &[$($crate::export::Param {
                        name: stringify!($arg),
                        ty: <$ty as $crate::export::Typed>::TYPE,
                    }),*],
                    returns: <<$ret as $crate::export::Outcome>::Ok as $crate::export::Typed>::TYPE,
                    result_field: $crate::export!(@field $($field)?),
                    raises: &[$($($crate::ErrorKind::$kind),*)?],
                    call: &|args| {
                        let mut at = args.iter();
                        $(
                            let $arg: $ty = at
                                .next()
                                .and_then($crate::export::FromArg::from_arg)
                                .ok_or_else(|| $crate::export::wrong_type(
                                    stringify!($name),
                                    stringify!($arg),
                                    <$ty as $crate::export::Typed>::TYPE,
                                ))?;
                        )*
                        $crate::export::Outcome::into_result($name($($arg),*))
                            .map($crate::export::IntoValue::into_value)
                    },
                    many: if true $(&& <$ty as $crate::export::Typed>::TYPE.is_numeric_scalar())*
                        && <<$ret as $crate::export::Outcome>::Ok as $crate::export::Typed>::TYPE
                            .is_numeric_scalar()
                    {
                        Some(&|args, out| {
                            let names = [$(stringify!($arg)),*];
                            let _n = $crate::export::many_len(args, &names, out.len())?;
                            let mut at = args.iter();
                            $(
                                let $arg = $crate::export::View::<$ty>::of(
                                    at.next().unwrap_or(&$crate::export::Arg::Bool(false)),
                                    stringify!($name),
                                    stringify!($arg),
                                )?;
                            )*
                            let out = <<$ret as $crate::export::Outcome>::Ok as $crate::export::IntoValue>::out_column(out)
                                .ok_or_else(|| $crate::export::wrong_type(
                                    stringify!($name),
                                    "out",
                                    <<$ret as $crate::export::Outcome>::Ok as $crate::export::Typed>::TYPE,
                                ))?;
                            // Always inlined: into the copies `run_many` compiles for wider vectors.
                            $crate::export::run_many(out, #[inline(always)] |start, part| {
                                $( let $arg = $arg.slice(start, part.len()); )*
                                // Arrays only (the common case): plain slices of
                                // the part's length, a loop the compiler vectorizes.
                                #[allow(irrefutable_let_patterns)]
                                if let ($($crate::export::View::Each($arg),)*) = ($($arg,)*) {
                                    $( let $arg = &$arg[..part.len()]; )*
                                    for (i, o) in part.iter_mut().enumerate() {
                                        *o = $crate::export::Outcome::into_result($name($($arg[i]),*))
                                            .map_err(|e| e.at(i))?;
                                    }
                                    return Ok(());
                                }
                                for (i, o) in part.iter_mut().enumerate() {
                                    *o = $crate::export::Outcome::into_result($name($($arg.get(i)),*))
                                        .map_err(|e| e.at(i))?;
                                }
                                Ok(())
                            })
                        })
                    } else {
                        None
                    },
                }
            ),*],
        };
    };
    // `signatures NAME` also exports `NAME!(callback::path, library::PATH)`,
    // which hands every signature to `callback!`: how other crates generate
    // per-function code (the C ABI's symbols) at compile time.
    (@signatures ($d:tt) $list:ident { $($sig:tt)* }) => {
        /// Hands every exported signature to `callback!`, with the library's path.
        #[macro_export]
        macro_rules! $list {
            ($d($d callback:ident)::+ , $d($d library:tt)+) => {
                $d($d callback)::+ ! { $d($d library)+ ; $($sig)* }
            };
        }
    };
    (@signatures ($d:tt) { $($sig:tt)* }) => {};
    (@field) => { "result" };
    (@field $field:ident) => { stringify!($field) };
}
