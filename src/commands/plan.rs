//! `eksaudit plan`: reads live AWS and shows what apply would change.

use eksaudit_aws::Aws;

use crate::cli::PlanArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(_args: &PlanArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    let aws = Aws::connect(&settings.connection, &spec.regions[0].name).await;
    if let Err(err) = aws.check_account(spec.pipeline.account_id.as_deref()).await {
        super::print_error(settings, &err.to_string());
        return ExitStatus::Error;
    }
    super::print_error(settings, "`eksaudit plan` is not complete in this version yet");
    ExitStatus::Error
}
