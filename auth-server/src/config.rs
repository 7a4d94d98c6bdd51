//! Configuration from the environment, validated as a whole: every problem is reported at
//! once, each with the variable's name.

use std::time::Duration;

/// Whether the server may fall back to development conveniences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub(crate) struct ServeConfig {
    pub(crate) port: u16,
    pub(crate) environment: Environment,
    pub(crate) log_level: String,
    pub(crate) log_format: LogFormat,
    pub(crate) shutdown_timeout: Duration,
}

/// Reads the configuration through `var` (the process environment in production, a map in
/// tests). Returns every problem found, not just the first.
pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<ServeConfig, Vec<String>> {
    let mut problems = Vec::new();
    let mut read = |name: &str, parse: &dyn Fn(&str) -> Result<(), String>| -> Option<String> {
        let value = var(name).filter(|v| !v.trim().is_empty())?;
        match parse(value.trim()) {
            Ok(()) => Some(value.trim().to_owned()),
            Err(why) => {
                problems.push(format!("{name}: {why}"));
                None
            }
        }
    };

    let port = read("PORT", &|v| {
        v.parse::<u16>()
            .map(drop)
            .map_err(|_| format!("{v:?} is not a port number (0-65535)"))
    })
    .and_then(|v| v.parse().ok())
    .unwrap_or(8080);

    let environment = match read("AUTH_ENV", &|v| match v {
        "development" | "production" => Ok(()),
        _ => Err(format!("{v:?} is neither development nor production")),
    })
    .as_deref()
    {
        Some("production") => Environment::Production,
        _ => Environment::Development,
    };

    let log_level = read("LOG_LEVEL", &|v| {
        tracing_subscriber::EnvFilter::try_new(v)
            .map(drop)
            .map_err(|e| format!("{v:?} is not a log filter: {e}"))
    })
    .unwrap_or_else(|| "info".to_owned());

    let log_format = match read("LOG_FORMAT", &|v| match v {
        "json" | "pretty" => Ok(()),
        _ => Err(format!("{v:?} is neither json nor pretty")),
    })
    .as_deref()
    {
        Some("pretty") => LogFormat::Pretty,
        _ => LogFormat::Json,
    };

    let shutdown_timeout = read("SHUTDOWN_TIMEOUT", &|v| match v.parse::<u64>() {
        Ok(1..=3600) => Ok(()),
        _ => Err(format!("{v:?} is not a number of seconds from 1 to 3600")),
    })
    .and_then(|v| v.parse().ok())
    .map_or(Duration::from_secs(20), Duration::from_secs);

    if environment == Environment::Production {
        // Only the in-memory backends and generated keys exist so far; production refuses both.
        if var("DATABASE_URL").is_none() && var("REDIS_URL").is_none() {
            problems.push(
                "DATABASE_URL: not set; production refuses the in-memory backends".to_owned(),
            );
        }
        problems.push(
            "AUTH_SIGNING_KEYS: this build only generates development keys, which production refuses"
                .to_owned(),
        );
    }

    if problems.is_empty() {
        Ok(ServeConfig {
            port,
            environment,
            log_level,
            log_format,
            shutdown_timeout,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<ServeConfig, Vec<String>> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        from_env(|name| vars.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_gives_the_development_defaults() {
        let config = config(&[]).unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.environment, Environment::Development);
        assert_eq!(config.log_level, "info");
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(20));
    }

    #[test]
    fn values_are_read_and_trimmed() {
        let config = config(&[
            ("PORT", " 9000 "),
            ("LOG_FORMAT", "pretty"),
            ("LOG_LEVEL", "auth_server=debug"),
            ("SHUTDOWN_TIMEOUT", "5"),
        ])
        .unwrap();
        assert_eq!(config.port, 9000);
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert_eq!(config.log_level, "auth_server=debug");
        assert_eq!(config.shutdown_timeout, Duration::from_secs(5));
    }

    #[test]
    fn every_problem_is_listed_at_once_with_the_variable_name() {
        let problems = config(&[
            ("PORT", "http"),
            ("AUTH_ENV", "staging"),
            ("LOG_FORMAT", "xml"),
            ("SHUTDOWN_TIMEOUT", "0"),
        ])
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        for (problem, name) in
            problems
                .iter()
                .zip(["PORT", "AUTH_ENV", "LOG_FORMAT", "SHUTDOWN_TIMEOUT"])
        {
            assert!(problem.starts_with(&format!("{name}: ")), "{problem}");
        }
    }

    #[test]
    fn production_refuses_in_memory_backends_and_generated_keys() {
        let problems = config(&[("AUTH_ENV", "production")]).unwrap_err();
        assert!(
            problems.iter().any(|p| p.starts_with("DATABASE_URL: ")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("AUTH_SIGNING_KEYS: ")),
            "{problems:?}"
        );
    }
}
