//! Lists in pages of 50, each page after the `<time>.<id>` of the last item
//! of the one before, with a link to the next page when there is one.

use crate::storage::PageRequest;

const PAGE_SIZE: usize = 50;

/// The page after `after` (empty for the first), one item longer than
/// shown, to tell whether another follows.
pub fn request(after: &str) -> PageRequest {
    let after = after
        .split_once('.')
        .and_then(|(t, id)| Some((t.parse().ok()?, id.to_owned())));
    PageRequest {
        limit: PAGE_SIZE as i64 + 1,
        after,
    }
}

/// Keeps the page's items of `found`; the link to the next page, if any:
/// `base` with `filters` and the cursor of the last item kept.
pub fn next_page<T>(
    found: &mut Vec<T>,
    cursor_of: impl Fn(&T) -> (i64, &str),
    base: &str,
    filters: &[(&str, &str)],
) -> Option<String> {
    let more = found.len() > PAGE_SIZE;
    found.truncate(PAGE_SIZE);
    let (time, id) = found.last().filter(|_| more).map(cursor_of)?;
    let after = format!("{time}.{id}");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(filters)
        .append_pair("after", &after)
        .finish();
    Some(format!("{base}?{query}"))
}
