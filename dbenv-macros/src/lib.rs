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
use syn::{FnArg, ItemFn, LitInt, LitStr, parse_macro_input};

#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
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
                    .project_dir(::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(#value))
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
    parse_macro_input!(args with parser);
    let function = parse_macro_input!(item as ItemFn);
    match expand(function, calls) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
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
            let builder = ::dbenv::TestDb::builder() #(#calls)*;
            #run
        }
    })
}
