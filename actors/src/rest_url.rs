//! REST URLs built from path segments, one way everywhere (the REST API's `Location`, the
//! benchmarks, workers calling each other): each segment is percent-encoded by the `url` crate
//! (`/` included, so a connector name is always one segment), and a path `base` carries (a
//! worker behind a proxy at `/connect`) is kept.

use reqwest::Url;

/// `base` followed by `segments`.
pub fn under(base: &str, segments: &[&str]) -> Result<Url, url::ParseError> {
    let mut url = Url::parse(base)?;
    url.path_segments_mut()
        .map_err(|()| url::ParseError::RelativeUrlWithCannotBeABaseBase)?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_one_each_under_the_base_s_path() {
        let url = under("http://w:8083", &["connectors", "a b/c", "status"]).unwrap();
        assert_eq!(url.as_str(), "http://w:8083/connectors/a%20b%2Fc/status");
        let url = under("https://proxy/connect/", &["connectors", "50%"]).unwrap();
        assert_eq!(url.as_str(), "https://proxy/connect/connectors/50%25");
        assert_eq!(
            under("mailto:x@y", &["connectors"]),
            Err(url::ParseError::RelativeUrlWithCannotBeABaseBase)
        );
        assert_eq!(
            under("no base", &["connectors"]),
            Err(url::ParseError::RelativeUrlWithoutBase)
        );
    }
}
