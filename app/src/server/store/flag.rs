//! A truth value as either engine keeps it: PostgreSQL's `BOOLEAN`, SQLite's 0 or 1
//! (SQLite has no boolean type, and through sqlx's `Any` driver its integers do not
//! decode as `bool`). Row types read such a column with `#[sqlx(try_from = "Flag")]`.

use sqlx::any::{AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, Type};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> Self {
        flag.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <bool as Type<Any>>::compatible(ty) || <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        match <bool as Decode<Any>>::decode(value.clone()) {
            Ok(truth) => Ok(Self(truth)),
            Err(_) => Ok(Self(<i64 as Decode<Any>>::decode(value)? != 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_integers_read_as_truth_values() {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect("sqlite::memory:").await.unwrap();
        let read: (Flag, Flag, Option<Flag>) = sqlx::query_as("SELECT 1, 0, NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(read, (Flag(true), Flag(false), None));
        assert!(
            sqlx::query_scalar::<_, bool>("SELECT 1")
                .fetch_one(&pool)
                .await
                .is_err(),
            "were a plain bool enough, Flag would not be needed"
        );
    }
}
