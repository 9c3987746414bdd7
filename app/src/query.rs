//! The current address's query: one parameter decoded exactly once, and where `?rd=`
//! (the return address the gate and the sign-in pages carry) leads.

use leptos::prelude::*;

/// The query parameter `key` of the current address (`rd`, say), decoded once.
///
/// leptos_router's `use_query_map` decodes its values a second time (`ParamsMap::insert`
/// unescapes what `URLSearchParams` and `url` have already decoded), which turns a
/// return address's own encoded query (`/welcome?rd=https%3A%2F%2F…`) into another
/// address. This reads the raw query string instead, the same on the server and in the
/// browser.
pub fn use_query_value(key: &'static str) -> Memo<Option<String>> {
    let location = leptos_router::hooks::use_location();
    Memo::new(move |_| location.search.with(|search| query_value(search, key)))
}

/// Where this page's `?rd=` leads, as the server judges it (`return_to`): the address and
/// the application it is in, or nothing for a missing or unsafe `rd`.
pub fn use_return_address() -> Resource<crate::model::applications::ReturnAddress> {
    let rd = use_query_value("rd");
    Resource::new(
        move || rd.get().filter(|rd| !rd.trim().is_empty()),
        |rd| async move {
            match rd {
                None => crate::model::applications::ReturnAddress::default(),
                Some(rd) => crate::api::return_to(rd).await.unwrap_or_default(),
            }
        },
    )
}

/// The first value of `key` in a query string (`a=1&rd=%2Fx`, with or without its `?`),
/// form-decoded once: `+` is a space, `%XX` a byte; invalid UTF-8 is replaced.
pub fn query_value(search: &str, key: &str) -> Option<String> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name) == key).then(|| form_decode(value))
        })
        .next()
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) {
                    // Two hex digits make one byte: at most 0xff.
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::query_value;

    #[test]
    fn a_query_value_is_decoded_exactly_once() {
        let search = "?x=1&rd=http%3A%2F%2Fa.test%2Fwelcome%3Frd%3Dhttp%253A%252F%252Fb.test";
        assert_eq!(
            query_value(search, "rd").as_deref(),
            Some("http://a.test/welcome?rd=http%3A%2F%2Fb.test")
        );
        assert_eq!(query_value("a=b+c%20d", "a").as_deref(), Some("b c d"));
        assert_eq!(query_value("a=100%", "a").as_deref(), Some("100%"));
        assert_eq!(query_value("a=%zz&b", "a").as_deref(), Some("%zz"));
        assert_eq!(query_value("b", "b").as_deref(), Some(""));
        assert_eq!(query_value("", "rd"), None);
        assert_eq!(query_value("rd=1&rd=2", "rd").as_deref(), Some("1"));
    }
}
