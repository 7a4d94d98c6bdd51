//! Macros shared by the middleware modules.

/// The accessors every middleware service has, as in tower-http: `get_ref`, `get_mut` and
/// `into_inner` over the service's `inner: S` field. Expand inside `impl<S, ..> X<S, ..>`.
macro_rules! define_inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}
