//! A function's description: everything a bridge needs to expose it.

use crate::error::{CoreError, ErrorKind};
use crate::export::types::{Arg, OutArray, Type, Value};

/// One argument of a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Its name: the JSON field, the protobuf field, the Python keyword.
    pub name: &'static str,
    /// Its type.
    pub ty: Type,
}

/// Calls the function with arguments of the declared types, in order.
///
/// A reference to a closure rather than a plain `fn`, so that a library
/// loaded at run time (through its C ABI) can be described by the same
/// [`Function`] as one compiled in: its closures hold where to call.
pub type CallFn = &'static (dyn for<'a> Fn(&[Arg<'a>]) -> Result<Value, CoreError> + Send + Sync);

/// The vectorized form: each argument an array of its scalar type (or one
/// scalar for every element), the results written to `out`. The error of the
/// first failing element is [`CoreError::At`] its index.
pub type ManyFn = &'static (dyn for<'a, 'b> Fn(&[Arg<'a>], &mut OutArray<'b>) -> Result<(), CoreError>
              + Send
              + Sync);

/// An exported function, as `export!` describes it.
#[derive(Clone, Copy)]
pub struct Function {
    /// Its name on every bridge.
    pub name: &'static str,
    /// Its documentation (the doc comment), shown by every bridge's catalogue.
    pub doc: &'static str,
    /// Its arguments, in order.
    pub params: &'static [Param],
    /// The type of its result.
    pub returns: Type,
    /// The name of the result's field in JSON and protobuf replies (`result`
    /// unless the definition says otherwise).
    pub result_field: &'static str,
    /// The error kinds it declares (beyond the bridges' own).
    pub raises: &'static [ErrorKind],
    /// Calls it.
    pub call: CallFn,
    /// Its vectorized form, when every argument and the result are numeric scalars.
    pub many: Option<ManyFn>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("params", &self.params)
            .field("returns", &self.returns)
            .field("result_field", &self.result_field)
            .field("raises", &self.raises)
            .field("many", &self.many.is_some())
            .finish_non_exhaustive()
    }
}

impl Function {
    /// The documentation's first line.
    #[must_use]
    pub fn summary(&self) -> &'static str {
        self.doc
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    }

    /// The documentation, each line trimmed of the one space after `///`.
    #[must_use]
    pub fn doc_text(&self) -> String {
        let lines: Vec<&str> = self
            .doc
            .lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect();
        lines.join("\n").trim().to_owned()
    }

    /// Calls the function, checking the number and types of the arguments.
    ///
    /// # Errors
    /// The function's own error, or [`ErrorKind::InvalidArgument`] for
    /// arguments that do not match the signature.
    pub fn invoke(&self, args: &[Arg<'_>]) -> Result<Value, CoreError> {
        self.check(args, false)?;
        (self.call)(args)
    }

    /// Calls the vectorized form, checking the arguments.
    ///
    /// # Errors
    /// As [`Function::invoke`]; [`CoreError::At`] the first failing element.
    pub fn invoke_many(&self, args: &[Arg<'_>], out: &mut OutArray<'_>) -> Result<(), CoreError> {
        self.check_many()?;
        self.check(args, true)?;
        let Some(many) = self.many else {
            return Ok(());
        };
        many(args, out)
    }

    /// Refuses a call with `given` arguments unless that is the function's arity.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] naming both counts.
    pub fn check_arity(&self, given: usize) -> Result<(), CoreError> {
        if given == self.params.len() {
            return Ok(());
        }
        Err(CoreError::InvalidArgument(format!(
            "{}() takes {} arguments ({given} given)",
            self.name,
            self.params.len(),
        )))
    }

    /// Refuses a vectorized call of a function that has no vectorized form.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`].
    pub fn check_many(&self) -> Result<(), CoreError> {
        match self.many {
            Some(_) => Ok(()),
            None => Err(CoreError::InvalidArgument(format!(
                "{} has no vectorized form",
                self.name
            ))),
        }
    }

    fn check(&self, args: &[Arg<'_>], many: bool) -> Result<(), CoreError> {
        self.check_arity(args.len())?;
        for (arg, param) in args.iter().zip(self.params) {
            let ok = arg.ty() == param.ty || (many && Some(arg.ty()) == param.ty.array());
            if !ok {
                return Err(CoreError::InvalidArgument(format!(
                    "argument '{}' of {}() must be {}, not {}",
                    param.name,
                    self.name,
                    param.ty.name(),
                    arg.ty().name()
                )));
            }
        }
        Ok(())
    }
}

/// A set of exported functions: a crate's whole export, as `export!` builds it.
#[derive(Clone, Copy, Debug)]
pub struct Library {
    /// The library's name (the gRPC package, the Python module's name).
    pub name: &'static str,
    /// The version of the crate that defines it.
    pub version: &'static str,
    /// Its functions, in definition order.
    pub functions: &'static [Function],
}

impl Library {
    /// The function called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'static Function> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The function called `name`, or the error every bridge gives for an unknown one.
    ///
    /// # Errors
    /// [`CoreError::UnknownOperation`].
    pub fn lookup(&self, name: &str) -> Result<&'static Function, CoreError> {
        self.get(name)
            .ok_or_else(|| CoreError::UnknownOperation(name.to_owned()))
    }

    /// The library's contract as one line per function, in definition
    /// order: what a caller relies on (names, parameter and result types,
    /// the reply's field, the error kinds, the vectorized form), and not
    /// what it does not (documentation, version).
    #[must_use]
    pub fn contract(&self) -> String {
        let mut text = format!("library {}\n", self.name);
        for f in self.functions {
            let params: Vec<String> = f
                .params
                .iter()
                .map(|p| format!("{}: {}", p.name, p.ty.name()))
                .collect();
            let raises: Vec<&str> = f.raises.iter().map(|k| k.name()).collect();
            text.push_str(&format!(
                "fn {}({}) -> {} as {} raises [{}]{}\n",
                f.name,
                params.join(", "),
                f.returns.name(),
                f.result_field,
                raises.join(", "),
                if f.many.is_some() { " many" } else { "" },
            ));
        }
        text
    }

    /// The checksum of [`Library::contract`] (64-bit FNV-1a): equal on both
    /// sides of a C ABI or a connection exactly when the contracts are.
    #[must_use]
    pub fn checksum(&self) -> u64 {
        checksum(&self.contract())
    }
}

/// The 64-bit FNV-1a hash of `text`: the catalogue checksum. Not a defence
/// against a forger (the token is), only against a stale build or client.
#[must_use]
pub fn checksum(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
