//! MySQL/MariaDB connections, made the way diesel-async makes them but able to reach a
//! server at a bracketed IPv6 address.
//!
//! diesel-async turns the URL into mysql_async's builder, which keeps the host as the URL
//! writes it, `[::1]`, and then looks that up as a host name. A URL cannot write an IPv6
//! address without brackets, so the builder gets the address without them here.

use diesel::result::{ConnectionError, DatabaseErrorKind};
use diesel_async::pooled_connection::ManagerConfig;
use diesel_async::{AsyncConnection, AsyncMysqlConnection};
use futures_util::FutureExt;
use mysql_async::{Opts, OptsBuilder};

/// The pool's setup: every pooled connection is made by [`establish`].
pub(crate) fn mysql_config() -> ManagerConfig<AsyncMysqlConnection> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|url: &str| establish(url).boxed());
    config
}

/// Connects like [`AsyncMysqlConnection::establish`], and to `[IPv6]` hosts too.
pub async fn establish(url: &str) -> diesel::ConnectionResult<AsyncMysqlConnection> {
    let Some(builder) = ipv6_builder(url)? else {
        return AsyncMysqlConnection::establish(url).await;
    };
    let conn = mysql_async::Conn::new(builder).await.map_err(|e| match e {
        // As diesel-async reports them, so messages and hints stay the same.
        mysql_async::Error::Server(e) => ConnectionError::CouldntSetupConfiguration(
            diesel::result::Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(e.message)),
        ),
        e => ConnectionError::BadConnection(e.to_string()),
    })?;
    AsyncMysqlConnection::try_from(conn).await
}

/// The driver's options for `url` with its IPv6 host unbracketed, or `None` when the host
/// is not an IPv6 address (diesel-async's own path then works as it is).
fn ipv6_builder(url: &str) -> diesel::ConnectionResult<Option<OptsBuilder>> {
    let opts =
        Opts::from_url(url).map_err(|e| ConnectionError::InvalidConnectionUrl(e.to_string()))?;
    let host = opts.ip_or_hostname();
    let Some(ip) = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .map(str::to_string)
    else {
        return Ok(None);
    };
    // The same settings diesel-async's establish gives its builder.
    Ok(Some(
        OptsBuilder::from_opts(opts)
            .ip_or_hostname(ip)
            .stmt_cache_size(0)
            .client_found_rows(true),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_host_reaches_the_driver_without_brackets() {
        let builder = ipv6_builder("mysql://root:pw@[::1]:3307/shop")
            .expect("valid")
            .expect("an IPv6 host");
        let opts = Opts::from(builder);
        assert_eq!(opts.ip_or_hostname(), "::1");
        assert_eq!(opts.tcp_port(), 3307);
        assert_eq!(opts.db_name(), Some("shop"));
        assert_eq!(opts.pass(), Some("pw"));
        for url in [
            "mysql://root@127.0.0.1/shop",
            "mysql://root@db.example/shop",
        ] {
            assert!(ipv6_builder(url).expect("valid").is_none(), "{url}");
        }
    }
}
