//! The page: one self-contained HTML document (markup, style and script embedded in the
//! binary), assembled once from the files under `assets/`.

use std::sync::LazyLock;

const TEMPLATE: &str = include_str!("../assets/index.html");
const STYLE: &str = include_str!("../assets/style.css");
const SCRIPT: &str = include_str!("../assets/app.js");

static PAGE: LazyLock<String> = LazyLock::new(|| {
    TEMPLATE
        .replace("/*__STYLE__*/", STYLE)
        .replace("/*__SCRIPT__*/", SCRIPT)
});

/// The whole page, style and script inlined.
pub fn html() -> &'static str {
    &PAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_self_contained() {
        let page = html();
        assert!(!page.contains("__STYLE__") && !page.contains("__SCRIPT__"));
        assert!(page.contains("</script>") && page.contains("</style>"));
        // No CDN and no external asset: every src/href stays on this origin.
        for attr in [
            "src=\"http",
            "href=\"http",
            "src='http",
            "href='http",
            "@import",
            "url(http",
        ] {
            assert!(
                !page.contains(attr),
                "page references an external asset: {attr}"
            );
        }
        assert!(page.contains(common::api::routes::SUMMARY));
    }
}
