//! Rapport: an API-first CRM backend.

pub mod analytics;
pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod embedded;
pub mod error;
pub mod http;
pub mod jobs;
pub mod openapi;
pub mod seed;
pub mod startup;

#[cfg(test)]
mod structure;
