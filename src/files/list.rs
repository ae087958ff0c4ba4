//! `GET /v1/files` pagination, as OpenAI does it: `after` (an id), `limit`
//! (1–10000, default 10000), `order` (`asc`/`desc` by creation time, default `desc`),
//! `purpose` (exact match).

use std::ops::Bound;

use super::store::Index;
use super::{FileError, FileObject};

/// How many files a list returns when the client gives no `limit`.
pub(crate) const DEFAULT_LIST_LIMIT: u32 = 10_000;
/// The largest `limit` a list accepts.
pub(crate) const MAX_LIST_LIMIT: u32 = 10_000;

/// The query of `GET /v1/files`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListQuery {
    pub(crate) after: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) order: Option<String>,
    pub(crate) purpose: Option<String>,
}

impl ListQuery {
    /// Parses a URL query string (with or without the leading `?`); unknown parameters
    /// are ignored, empty values count as absent.
    pub(crate) fn from_query_string(q: &str) -> Result<ListQuery, FileError> {
        let q = q.strip_prefix('?').unwrap_or(q);
        let mut out = ListQuery::default();
        for (key, value) in url::form_urlencoded::parse(q.as_bytes()) {
            if value.is_empty() {
                continue;
            }
            match key.as_ref() {
                "after" => out.after = Some(value.into_owned()),
                "limit" => {
                    let limit = value.trim().parse::<u32>().map_err(|_| bad_limit(&value))?;
                    out.limit = Some(limit);
                }
                "order" => out.order = Some(value.into_owned()),
                "purpose" => out.purpose = Some(value.into_owned()),
                _ => {}
            }
        }
        out.checked()?;
        Ok(out)
    }

    /// (limit, newest first?) after checking the values.
    fn checked(&self) -> Result<(usize, bool), FileError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIST_LIMIT);
        if !(1..=MAX_LIST_LIMIT).contains(&limit) {
            return Err(bad_limit(&limit.to_string()));
        }
        let desc = match self.order.as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(other) => {
                return Err(FileError::bad_request(
                    format!(
                        "Invalid `order` {:?}: use `asc` (oldest first) or `desc` (newest first, the default).",
                        shorten(other)
                    ),
                    Some("order"),
                ));
            }
        };
        Ok((limit as usize, desc))
    }
}

/// One page of `GET /v1/files`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct ListPage {
    pub(crate) object: &'static str,
    pub(crate) data: Vec<FileObject>,
    pub(crate) first_id: Option<String>,
    pub(crate) last_id: Option<String>,
    pub(crate) has_more: bool,
}

/// The page `q` asks for, from the index.
pub(super) fn page(index: &Index, q: &ListQuery) -> Result<ListPage, FileError> {
    let (limit, desc) = q.checked()?;
    let after = match &q.after {
        Some(id) => Some(index.key_of(id).ok_or_else(|| {
            FileError::bad_request(
                format!(
                    "Invalid `after`: no file with id `{}` is stored. Pass the `last_id` of the previous page, or leave `after` out to start from the beginning.",
                    shorten(id)
                ),
                Some("after"),
            )
        })?),
        None => None,
    };
    let files: Box<dyn Iterator<Item = &FileObject>> = match (desc, after) {
        (false, None) => Box::new(index.by_time.values()),
        (true, None) => Box::new(index.by_time.values().rev()),
        (false, Some(key)) => Box::new(
            index
                .by_time
                .range((Bound::Excluded(key), Bound::Unbounded))
                .map(|(_, f)| f),
        ),
        (true, Some(key)) => Box::new(index.by_time.range(..key).rev().map(|(_, f)| f)),
    };
    let mut data: Vec<FileObject> = files
        .filter(|f| q.purpose.as_deref().is_none_or(|p| f.purpose == p))
        .take(limit + 1)
        .cloned()
        .collect();
    let has_more = data.len() > limit;
    data.truncate(limit);
    Ok(ListPage {
        object: "list",
        first_id: data.first().map(|f| f.id.clone()),
        last_id: data.last().map(|f| f.id.clone()),
        data,
        has_more,
    })
}

fn bad_limit(value: &str) -> FileError {
    FileError::bad_request(
        format!(
            "Invalid `limit` {:?}: use an integer from 1 to {MAX_LIST_LIMIT}.",
            shorten(value)
        ),
        Some("limit"),
    )
}

/// A client value cut short for an error message.
fn shorten(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_query_strings() {
        let q =
            ListQuery::from_query_string("?after=file-abc&limit=2&order=asc&purpose=user_data&x=1")
                .unwrap();
        assert_eq!(
            q,
            ListQuery {
                after: Some("file-abc".into()),
                limit: Some(2),
                order: Some("asc".into()),
                purpose: Some("user_data".into()),
            }
        );
        assert_eq!(
            ListQuery::from_query_string("").unwrap(),
            ListQuery::default()
        );
        assert_eq!(
            ListQuery::from_query_string("purpose=fine%2Dtune&after=").unwrap(),
            ListQuery {
                purpose: Some("fine-tune".into()),
                ..ListQuery::default()
            }
        );
    }

    #[test]
    fn rejects_bad_limit_and_order_naming_the_param() {
        for q in ["limit=0", "limit=10001", "limit=-1", "limit=ten"] {
            let e = ListQuery::from_query_string(q).unwrap_err();
            assert_eq!((e.status(), e.param()), (400, Some("limit")), "{q}");
        }
        let e = ListQuery::from_query_string("order=newest").unwrap_err();
        assert_eq!(e.param(), Some("order"));
        assert!(e.to_string().contains("asc"));
    }
}
