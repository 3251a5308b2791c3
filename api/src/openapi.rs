//! The OpenAPI 3.0 document of `/api/v1`, served at
//! `/api/v1/openapi.json`. Written by hand next to the code it describes:
//! the parameter names come from the same constants the handlers check
//! (a test compares them), and the limits are the ones `params.rs` applies,
//! so a fuzzer driven by this document (schemathesis) explores exactly the
//! accepted space and its edges.

use actix_web::HttpResponse;
use serde_json::{Value, json};

use imdb_model::TITLE_TYPES;

use crate::params::{MAX_PAGE_DEPTH, MAX_PAGE_SIZE, MAX_QUERY_CHARS, MAX_QUERY_WORDS};
use crate::query::Sort;
use crate::routes::MAX_SUGGEST_CHARS;

fn param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn required(mut p: Value) -> Value {
    p["required"] = json!(true);
    p
}

fn text(max: usize) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max})
}

fn int(min: i64, max: i64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

fn paging() -> [Value; 2] {
    [
        param(
            "page",
            &format!("Page number; page x size may not pass {MAX_PAGE_DEPTH}."),
            int(1, MAX_PAGE_DEPTH.into()),
        ),
        param("size", "Hits per page.", int(1, MAX_PAGE_SIZE.into())),
    ]
}

fn id_path(name: &str, example: &str, pattern: &str) -> Value {
    json!({"name": name, "in": "path", "required": true,
           "schema": {"type": "string", "example": example, "pattern": pattern}})
}

/// Responses every operation can give besides its 200.
fn responses(ok: &str, not_found: bool) -> Value {
    let problem = |d: &str| json!({"description": d, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let mut r = json!({
        "200": {"description": ok, "content": {"application/json": {"schema": {"type": "object"}}}},
        "400": problem("Invalid parameter: `invalid_params` names it and says why."),
        "405": problem("Only GET is answered."),
        "429": problem("Rate limit exceeded; see Retry-After."),
        "502": problem("The search cluster failed."),
        "503": problem("At capacity, nothing indexed yet, or the cluster is unreachable."),
        "504": problem("The search cluster timed out."),
    });
    if not_found {
        r["404"] = problem("No such resource.");
    }
    r
}

fn get(summary: &str, parameters: Vec<Value>, ok: &str, not_found: bool) -> Value {
    json!({"get": {"summary": summary, "parameters": parameters, "responses": responses(ok, not_found)}})
}

/// The document.
pub fn document() -> Value {
    let search_params = vec![
        param(
            "q",
            &format!(
                "Search text: titles (original and alternative too), directors, writers, cast; typos, accents and \
                 partial words are fine. At most {MAX_QUERY_CHARS} characters and {MAX_QUERY_WORDS} words, no control \
                 characters, at least one letter or digit."
            ),
            text(MAX_QUERY_CHARS),
        ),
        param(
            "genre",
            "Genre filter (any of them); repeat or comma-separate.",
            json!({"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 20}),
        ),
        param(
            "type",
            "Title type filter (any of them).",
            json!({"type": "array", "items": {"type": "string", "enum": TITLE_TYPES}, "maxItems": 20}),
        ),
        param("year_from", "First year, inclusive.", int(1850, 2100)),
        param("year_to", "Last year, inclusive.", int(1850, 2100)),
        param("rating_min", "Lowest rating.", json!({"type": "number", "minimum": 0, "maximum": 10})),
        param("votes_min", "Fewest votes.", int(0, 10_000_000_000)),
        param("adult", "Include adult titles (excluded by default).", json!({"type": "boolean"})),
        param("sort", "Order of the hits.", json!({"type": "string", "enum": Sort::NAMES})),
        paging()[0].clone(),
        paging()[1].clone(),
        param(
            "cursor",
            "Continue after a page: `next_cursor` of the previous answer, with the same sort.",
            json!({"type": "string", "maxLength": 1024}),
        ),
        param("facets", "Compute facets (default true).", json!({"type": "boolean"})),
        param("highlight", "Mark matched words in titles (default true).", json!({"type": "boolean"})),
    ];
    let mut people_params = vec![
        required(param("q", "A name or part of one.", text(MAX_QUERY_CHARS))),
        param(
            "profession",
            "Only people with this profession (IMDb spelling: actor, director, writer, ...).",
            json!({"type": "string", "pattern": "^[a-z_]{1,40}$"}),
        ),
    ];
    people_params.extend(paging());
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "imdb-search API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Search the IMDb dataset: titles with filters and facets, as-you-type suggestions, title and person pages. Errors are application/problem+json."
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/search": get("Search titles", search_params, "Hits, total, facets, took_ms and next_cursor.", false),
            "/suggest": get("Complete titles and people as the user types", vec![
                required(param("q", "The characters typed so far.", text(MAX_SUGGEST_CHARS))),
                param("size", "Suggestions of each kind.", int(1, 20)),
            ], "Titles and people, the most popular first.", false),
            "/titles/{tconst}": get("A title with cast, crew and alternative titles", vec![id_path("tconst", "tt0111161", "^(tt[0-9]{1,12}|x[0-9a-fA-F]{1,39})$")], "The title.", true),
            "/people/search": get("Search people by name", people_params, "Hits and total.", false),
            "/people/{nconst}": get("A person with their known-for titles", vec![id_path("nconst", "nm0000151", "^nm[0-9]{1,12}$")], "The person.", true),
            "/genres": get("Genres with their number of titles", vec![], "Genres.", false),
            "/stats": get("What is indexed", vec![], "Counts.", false),
        },
        "components": {"schemas": {"Problem": {
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"},
                "invalid_params": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "reason": {"type": "string"}}}}
            }
        }}}
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::TitleSearch;

    #[test]
    fn the_document_lists_exactly_the_parameters_the_handlers_accept() {
        let doc = document();
        let names: Vec<&str> = doc["paths"]["/search"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, TitleSearch::PARAMS);
        for path in ["/suggest", "/titles/{tconst}", "/people/search", "/people/{nconst}", "/genres", "/stats"] {
            assert!(doc["paths"][path]["get"]["responses"]["400"].is_object(), "{path}");
        }
    }
}
