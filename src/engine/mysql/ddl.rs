//! Rewriting the DDL that `SHOW CREATE VIEW` / `SHOW CREATE TRIGGER` print, so it can be
//! replayed in another schema by another account.

use super::q;

/// Remove `DEFINER=user@host` so objects are recreated as the connected account (setting
/// another definer needs SUPER / SET_USER_ID).
pub(super) fn strip_definer(sql: &str) -> String {
    let upper = sql.to_ascii_uppercase();
    let Some(start) = upper.find("DEFINER=") else {
        return sql.to_string();
    };
    let mut end = start + "DEFINER=".len();
    let bytes = sql.as_bytes();
    for part in 0..2 {
        end = skip_account_part(bytes, end);
        if part == 0 && bytes.get(end) == Some(&b'@') {
            end += 1;
        } else {
            break;
        }
    }
    while bytes.get(end) == Some(&b' ') {
        end += 1;
    }
    format!("{}{}", &sql[..start], &sql[end..])
}

/// Skip one `user` or `host` of an account: quoted (`…`, '…', "…") or bare.
fn skip_account_part(bytes: &[u8], mut i: usize) -> usize {
    match bytes.get(i) {
        Some(&quote @ (b'`' | b'\'' | b'"')) => {
            i += 1;
            while let Some(&b) = bytes.get(i) {
                i += 1;
                if b == quote {
                    if bytes.get(i) == Some(&quote) {
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
            i
        }
        _ => {
            while bytes.get(i).is_some_and(|b| !b" @".contains(b)) {
                i += 1;
            }
            i
        }
    }
}

/// Point a view's schema-qualified names (`from`.`t`) at `to`.
pub(super) fn retarget(sql: &str, from: &str, to: &str) -> String {
    sql.replace(&format!("{}.", q(from)), &format!("{}.", q(to)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definers_are_removed() {
        assert_eq!(
            strip_definer(
                "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1"
            ),
            "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1"
        );
        assert_eq!(
            strip_definer(
                "CREATE DEFINER=`a``b`@`localhost` TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET NEW.a = 1"
            ),
            "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET NEW.a = 1"
        );
        assert_eq!(
            strip_definer("CREATE DEFINER=root@localhost TRIGGER t"),
            "CREATE TRIGGER t"
        );
        assert_eq!(
            strip_definer("CREATE VIEW v AS select 1"),
            "CREATE VIEW v AS select 1"
        );
    }

    #[test]
    fn views_follow_their_schema() {
        assert_eq!(
            retarget(
                "select `tpl`.`t`.`id` AS `id` from `tpl`.`t`",
                "tpl",
                "copy"
            ),
            "select `copy`.`t`.`id` AS `id` from `copy`.`t`"
        );
    }
}
