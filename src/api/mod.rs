//! The `/api/v1` resources, one module each; `configure` registers them all.

pub mod analytics;
pub mod api_tokens;
pub mod auth;
pub mod channels;
pub mod customers;
pub mod deals;
pub mod events;
pub mod interactions;
pub mod operations;
pub mod pipelines;
pub mod reports;
pub mod support;
pub mod users;
pub mod workspace;

use utoipa_actix_web::service_config::ServiceConfig;

/// Every route the server serves: operations, and the API under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(operations::live)
        .service(operations::ready)
        .service(operations::metrics)
        .service(utoipa_actix_web::scope::scope("/api/v1").configure(configure));
}

/// Every route under `/api/v1`, top-down.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::sign_up)
        .service(workspace::get_workspace)
        .service(workspace::patch_workspace)
        .service(users::list_users)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::patch_user)
        .service(users::delete_user)
        .service(api_tokens::list_api_tokens)
        .service(api_tokens::create_token)
        .service(api_tokens::delete_token)
        .service(channels::list_channels)
        .service(channels::create_channel)
        .service(channels::get_channel)
        .service(channels::patch_channel)
        .service(channels::delete_channel)
        .service(customers::export_customers)
        .service(customers::import_customers)
        .service(customers::list_customers)
        .service(customers::create_customer)
        .service(customers::get_customer)
        .service(customers::patch_customer)
        .service(customers::delete_customer)
        .service(customers::restore_customer)
        .service(customers::timeline)
        .service(customers::summary)
        .service(interactions::list_interactions)
        .service(interactions::create_interaction)
        .service(interactions::create_batch)
        .service(interactions::get_interaction)
        .service(interactions::patch_interaction)
        .service(interactions::delete_interaction)
        .service(pipelines::list_pipelines)
        .service(pipelines::create_pipeline)
        .service(pipelines::reorder_stages)
        .service(pipelines::add_stage)
        .service(pipelines::patch_stage)
        .service(pipelines::delete_stage)
        .service(pipelines::get_pipeline)
        .service(pipelines::patch_pipeline)
        .service(pipelines::delete_pipeline)
        .service(deals::list_deals)
        .service(deals::create_deal)
        .service(deals::get_deal)
        .service(deals::patch_deal)
        .service(deals::delete_deal)
        .service(deals::history)
        .service(analytics::funnel)
        .service(analytics::segments)
        .service(analytics::rfm)
        .service(analytics::cohorts)
        .service(analytics::interactions)
        .service(analytics::basket)
        .service(analytics::support)
        .service(reports::list_reports)
        .service(reports::create_report)
        .service(reports::get_report)
        .service(reports::patch_report)
        .service(reports::delete_report)
        .service(reports::run_report)
        .service(reports::list_runs)
        .service(reports::get_run)
        .service(support::get_business_hours)
        .service(support::set_business_hours)
        .service(support::list_sla_policies)
        .service(support::create_sla_policy)
        .service(support::get_sla_policy)
        .service(support::patch_sla_policy)
        .service(support::delete_sla_policy)
        .service(support::list_cases)
        .service(support::create_case)
        .service(support::get_case)
        .service(support::case_timeline)
        .service(support::patch_case)
        .service(support::delete_case)
        .service(events::list_events);
}
