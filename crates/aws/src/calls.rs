//! `-v` shows each AWS call: an interceptor on every client logs the service and operation of every attempt
//! (retries included) at debug level, and counts the calls (`calls_started`, what the binary's read spinner
//! shows).

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::ConfigBag;

/// AWS calls started in this process, each once whatever its attempts.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// How many AWS calls this process has started.
pub fn calls_started() -> usize {
    STARTED.load(Ordering::Relaxed)
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallLogger;

impl Intercept for CallLogger {
    fn name(&self) -> &'static str {
        "eksaudit-call-logger"
    }

    fn read_before_execution(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        STARTED.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            tracing::debug!(service = m.service(), operation = m.name(), "AWS call");
        }
        Ok(())
    }
}
