//! `#[dbenv::test]`: a test that receives its own database, migrated and seeded from the
//! project's `migrations/` and `seeds/`. Use it through the `dbenv` crate, which re-exports
//! it; see `dbenv::fixture` for how databases and servers are managed.
//!
//! ```ignore
//! #[dbenv::test(scenario = "demo")]
//! async fn lists_users(pool: sqlx::SqlitePool) {
//!     let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
//!         .fetch_one(&pool).await.unwrap();
//!     assert!(n > 0);
//! }
//! ```
//!
//! Arguments (all optional): `env = "test"`, `engine = "postgres"`, `scenario = "demo"`,
//! `seed = 7`, `fixtures("tests/fixtures/a.sql", …)`, `project = "path"`. The test takes
//! one argument: a `SqlitePool`, `PgPool`, `MySqlPool` (which also picks the engine when no
//! env is named) or a `dbenv::TestDb`, and may return `()` or a `Result`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitInt, LitStr};

#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let result = parse_args(args.into()).and_then(|calls| {
        let function: ItemFn = syn::parse(item)?;
        expand(function, calls)
    });
    match result {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The attribute's arguments, as builder calls (`.scenario("demo")`…).
fn parse_args(args: Tokens) -> syn::Result<Vec<Tokens>> {
    use syn::parse::Parser;
    let mut calls = Vec::new();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match key.as_str() {
            "env" | "scenario" => {
                let value: LitStr = meta.value()?.parse()?;
                let method = syn::Ident::new(&key, meta.path.span());
                calls.push(quote! { .#method(#value) });
            }
            "project" => {
                let value: LitStr = meta.value()?.parse()?;
                calls.push(quote! {
                    .project_dir(::std::path::Path::new(::std::env!("CARGO_MANIFEST_DIR")).join(#value))
                });
            }
            "seed" => {
                let value: LitInt = meta.value()?.parse()?;
                calls.push(quote! { .seed(#value) });
            }
            "engine" => {
                let value: LitStr = meta.value()?.parse()?;
                let variant = match value.value().as_str() {
                    "sqlite" => quote! { Sqlite },
                    "postgres" => quote! { Postgres },
                    "mysql" => quote! { Mysql },
                    "mariadb" => quote! { Mariadb },
                    other => {
                        return Err(syn::Error::new(
                            value.span(),
                            format!(
                                "unknown engine \"{other}\": expected sqlite, postgres, mysql or mariadb"
                            ),
                        ));
                    }
                };
                calls.push(quote! { .engine(::dbenv::config::EngineKind::#variant) });
            }
            "fixtures" => {
                let content;
                syn::parenthesized!(content in meta.input);
                let files = content
                    .parse_terminated(<LitStr as syn::parse::Parse>::parse, syn::Token![,])?;
                for file in files {
                    calls.push(quote! { .fixture(#file) });
                }
            }
            _ => {
                return Err(meta.error(
                    "unknown argument: expected env, engine, scenario, seed, fixtures or project",
                ));
            }
        }
        Ok(())
    });
    parser.parse2(args)?;
    Ok(calls)
}

fn expand(function: ItemFn, calls: Vec<Tokens>) -> syn::Result<Tokens> {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            "#[dbenv::test] functions must be async: `async fn name(pool: PgPool)`",
        ));
    }
    let mut inputs = sig.inputs.iter();
    let (Some(FnArg::Typed(arg)), None) = (inputs.next(), inputs.next()) else {
        return Err(syn::Error::new(
            sig.inputs.span(),
            "#[dbenv::test] functions take one argument: a SqlitePool, PgPool, MySqlPool or dbenv::TestDb",
        ));
    };
    let ty = &arg.ty;
    // A `#[should_panic]` test passes by panicking: its database is not worth keeping.
    let panic_expected = attrs
        .iter()
        .any(|a| a.path().is_ident("should_panic"))
        .then(|| quote! { .panic_expected() });
    let name = &sig.ident;
    let output = &sig.output;
    let input = &sig.inputs;
    let run = quote_spanned! { ty.span() =>
        ::dbenv::fixture::run_test::<#ty, _, _>(builder, __dbenv_test_body)
    };
    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() #output {
            async fn __dbenv_test_body(#input) #output #block
            // The crate under test, fixed at compile time: test binaries run without cargo
            // (hyperfine, a debugger) find the project too. `project = "…"` overrides it.
            let builder = ::dbenv::TestDb::builder()
                .project_dir(::std::env!("CARGO_MANIFEST_DIR"))
                #(#calls)* #panic_expected;
            #run
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(args: &str, item: &str) -> String {
        let result = parse_args(args.parse().unwrap())
            .and_then(|calls| expand(syn::parse_str(item)?, calls));
        match result {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e.to_string(),
        }
    }

    const GOOD: &str = "async fn t(pool: PgPool) {}";

    #[::core::prelude::v1::test]
    fn arguments_become_builder_calls() {
        let calls = parse_args(
            r#"env = "test", scenario = "demo", seed = 7, engine = "mariadb", fixtures("a.sql", "b.sql")"#
                .parse()
                .unwrap(),
        )
        .unwrap();
        let text: Vec<String> = calls
            .iter()
            .map(|c| c.to_string().replace(' ', ""))
            .collect();
        assert_eq!(
            text,
            [
                r#".env("test")"#,
                r#".scenario("demo")"#,
                ".seed(7)",
                ".engine(::dbenv::config::EngineKind::Mariadb)",
                r#".fixture("a.sql")"#,
                r#".fixture("b.sql")"#,
            ]
        );
    }

    #[::core::prelude::v1::test]
    fn bad_arguments_say_what_is_expected() {
        assert!(
            error(r#"engine = "oracle""#, GOOD)
                .contains("unknown engine \"oracle\": expected sqlite, postgres, mysql or mariadb")
        );
        assert!(error(r#"scenaro = "demo""#, GOOD).contains(
            "unknown argument: expected env, engine, scenario, seed, fixtures or project"
        ));
        assert!(error("seed = \"x\"", GOOD).contains("expected integer literal"));
        assert!(error("fixtures(1)", GOOD).contains("expected string literal"));
    }

    #[::core::prelude::v1::test]
    fn bad_functions_say_how_to_write_them() {
        assert!(error("", "fn t(pool: PgPool) {}").contains("must be async"));
        assert!(error("", "async fn t() {}").contains("take one argument"));
        assert!(error("", "async fn t(a: PgPool, b: PgPool) {}").contains("take one argument"));
    }

    #[::core::prelude::v1::test]
    fn should_panic_tests_do_not_keep_their_database() {
        let item = syn::parse_str("#[should_panic] async fn t(pool: PgPool) {}").unwrap();
        let out = expand(item, Vec::new()).unwrap().to_string();
        assert!(out.contains("panic_expected"), "{out}");
        let item = syn::parse_str(GOOD).unwrap();
        assert!(
            !expand(item, Vec::new())
                .unwrap()
                .to_string()
                .contains("panic_expected")
        );
    }
}
