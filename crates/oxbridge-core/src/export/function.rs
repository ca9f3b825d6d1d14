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
pub type CallFn = for<'a> fn(&[Arg<'a>]) -> Result<Value, CoreError>;

/// The vectorized form: each argument an array of its scalar type (or one
/// scalar for every element), the results written to `out`. The error of the
/// first failing element is [`CoreError::At`] its index.
pub type ManyFn = for<'a, 'b> fn(&[Arg<'a>], &mut OutArray<'b>) -> Result<(), CoreError>;

/// An exported function, as `export!` describes it.
#[derive(Clone, Copy, Debug)]
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
}
