use serde_json::{json, Value};

use crate::helpers::*;

async fn import(app: &TestApp, token: &str, content_type: &str, body: String) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/customers/import"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn csv_import_upserts_by_email_and_reports_bad_rows() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let existing: Value = app
        .post(
            "/api/v1/customers",
            &owner,
            json!({"name": "Old Name", "email": "ada@example.com", "city": "Paris", "tags": ["keep"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let csv = "name,email,country,tags,attributes,city\n\
               Ada Lovelace,ADA@example.com,GB,vip;math,\"{\"\"plan\"\":\"\"gold\"\"}\",\n\
               Bob,bob@example.com,FR,,,\n\
               ,nameless@example.com,FR,,,\n\
               Carl,carl@,DE,,,\n\
               Dora,dora@example.com,XX,,,\n\
               \"Eve, the second\",,US,\"[\"\"a\"\",\"\"b\"\"]\",,\n";
    let res = import(&app, &owner, "text/csv", csv.into()).await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1), Some(3)),
        "{report}"
    );
    let errors: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(errors, [(4, "name".into()), (5, "email".into()), (6, "country".into())]);

    let ada: Value =
        app.get(&format!("/api/v1/customers/{}", existing["id"].as_str().unwrap()), &owner).await.json().await.unwrap();
    assert_eq!(ada["name"], "Ada Lovelace");
    assert_eq!(ada["city"], "Paris", "an empty cell keeps the value");
    assert_eq!(ada["tags"], json!(["vip", "math"]));
    assert_eq!(ada["attributes"], json!({"plan": "gold"}));
    assert_eq!(ada["version"], 2);
    let eve: Value = app.get("/api/v1/customers?q=eve", &owner).await.json().await.unwrap();
    assert_eq!(eve["data"][0]["name"], "Eve, the second");
    assert_eq!(eve["data"][0]["tags"], json!(["a", "b"]));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn a_quote_never_closed_is_reported_on_its_line_and_lands_nothing_of_it() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    // The `csv` crate reads the rest of the file into Bob's city, silently.
    let csv = "name,city\nAda,Paris\nBob,\"Lyon\nCarl,Nice\nDora,Rome\n";
    let report: Value = import(&app, &owner, "text/csv", csv.into()).await.json().await.unwrap();
    assert_eq!((report["created"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!((report["errors"][0]["line"].as_u64(), report["errors"][0]["field"].as_str()), (Some(3), Some("line")));
    assert!(report["errors"][0]["message"].as_str().unwrap().contains("never closed"), "{report}");
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM customers ORDER BY name").fetch_all(&app.pool).await.unwrap();
    assert_eq!(names, ["Ada"]);
    // A closed quote spanning lines is one value, as ever.
    let report: Value =
        import(&app, &owner, "text/csv", "name,city\n\"Eve\nSmith\",Oslo\n".into()).await.json().await.unwrap();
    assert_eq!((report["created"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(0)), "{report}");
    // Left open in the header: nothing to import, and said so (not the rest of the file echoed
    // back as a column name).
    let refused = assert_problem(
        import(&app, &owner, "text/csv", "name,\"city\nAda,Paris\n".into()).await,
        400,
        "malformed_request",
    )
    .await;
    assert!(refused["detail"].as_str().unwrap().contains("never closed"), "{refused}");
    assert!(!refused.to_string().contains("Paris"), "{refused}");
}

#[tokio::test]
async fn ndjson_import_and_a_repeated_email_in_one_file() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let body = [
        json!({"name": "One", "email": "x@example.com"}).to_string(),
        String::new(),
        json!({"name": "Two", "email": "X@example.com", "country": "FR"}).to_string(),
        "{not json".into(),
        json!({"name": "Three", "unknown": 1}).to_string(),
        json!({"name": "Four", "kind": "company"}).to_string(),
    ]
    .join("\n");
    let report: Value = import(&app, &owner, "application/x-ndjson", body).await.json().await.unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1), Some(2)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["line"], 4);
    assert_eq!(report["errors"][1]["field"], "unknown");
    let x: Value = app.get("/api/v1/customers?email=x@example.com", &owner).await.json().await.unwrap();
    assert_eq!(x["data"][0]["name"], "Two", "the later row wins");
}

#[tokio::test]
async fn import_refuses_other_types_and_reports_unknown_columns() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    assert_problem(import(&app, &owner, "application/xml", "<x/>".into()).await, 415, "unsupported_media_type").await;
    assert_problem(import(&app, &owner, "text/csv", "nom,password\nA,B\n".into()).await, 400, "malformed_request")
        .await;
    assert_problem(import(&app, &owner, "application/x-ndjson", "[1]\n".into()).await, 400, "malformed_request").await;
    assert_problem(import(&app, &owner, "application/x-ndjson", " \n".into()).await, 400, "malformed_request").await;
    // A column Rapport does not know refuses the file: its data would be lost silently.
    let refused = assert_problem(
        import(&app, &owner, "text/csv", "name,password\nA,B\n,C\n".into()).await,
        400,
        "malformed_request",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "header[1]", "{refused}");
    let report: Value =
        import(&app, &owner, "text/csv", "name,version,updated_at\nA,3,x\n,1,\n".into()).await.json().await.unwrap();
    assert_eq!(report["ignored_columns"], json!(["version", "updated_at"]));
    assert_eq!((report["created"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(1)));
    assert_eq!(report["errors"][0]["field"], "name");
    sqlx::query("DELETE FROM customers").execute(&app.pool).await.unwrap();
    let (viewer, _) = app.user_token(&owner, "viewer").await;
    assert_problem(import(&app, &viewer, "text/csv", "name\nA\n".into()).await, 403, "forbidden").await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_large_import_streams_through() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let mut csv = String::from("name,email,tags\n");
    for i in 0..5000 {
        csv.push_str(&format!("Person {i},p{i}@example.com,t{}\n", i % 7));
    }
    let report: Value = import(&app, &owner, "text/csv", csv.clone()).await.json().await.unwrap();
    assert_eq!(report["created"], 5000);
    let again: Value = import(&app, &owner, "text/csv", csv).await.json().await.unwrap();
    assert_eq!((again["created"].as_u64(), again["updated"].as_u64()), (Some(0), Some(5000)));
}

#[tokio::test]
async fn export_streams_csv_and_ndjson_with_the_list_filters_and_reimports() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    for i in 0..1203 {
        let country = if i % 3 == 0 { "FR" } else { "DE" };
        let res = app.post("/api/v1/customers", &owner, json!({"name": format!("C{i}"), "country": country, "email": format!("c{i}@example.com"), "attributes": {"n": i}})).await;
        assert_eq!(res.status(), 201);
    }
    let res = app
        .client
        .get(app.url("/api/v1/customers/export?country=FR"))
        .bearer_auth(&owner)
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 401);
    assert!(lines.iter().all(|c| c["country"] == "FR"));

    let res = app
        .client
        .get(app.url("/api/v1/customers/export"))
        .bearer_auth(&owner)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().get(2), Some("name"));
    assert_eq!(reader.records().count(), 1203);

    // An export imports back as updates of the same customers.
    let report: Value = import(&app, &owner, "text/csv", csv).await.json().await.unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64(), report["rejected"].as_u64()),
        (Some(0), Some(1203), Some(0)),
        "{report}"
    );

    let res = app
        .client
        .get(app.url("/api/v1/customers/export"))
        .bearer_auth(&owner)
        .header("accept", "application/pdf")
        .send()
        .await
        .unwrap();
    assert_problem(res, 406, "unsupported_media_type").await;
    assert_problem(app.get("/api/v1/customers/export?limit=5", &owner).await, 400, "malformed_request").await;
    let other = app.other_workspace().await;
    let res = app
        .client
        .get(app.url("/api/v1/customers/export"))
        .bearer_auth(&other)
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "", "another workspace exports nothing of this one");
}

/// The ids of the customers, by name.
async fn by_name(app: &TestApp) -> std::collections::BTreeMap<String, (String, Option<String>)> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT name, id::text, email FROM customers
              WHERE workspace_id = (SELECT id FROM workspaces ORDER BY created_at LIMIT 1) ORDER BY name",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(n, id, e)| (n, (id, e))).collect()
}

#[tokio::test]
async fn csv_headers_match_the_way_people_write_them() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    // The same file twice, with a header in another case: the second time updates by email.
    let file = "name,Email\nMia Example,mia@example.org\n";
    for expected in [(1, 0), (0, 1)] {
        let report: Value = import(&app, &owner, "text/csv", file.into()).await.json().await.unwrap();
        assert_eq!(
            (report["created"].as_u64(), report["updated"].as_u64()),
            (Some(expected.0), Some(expected.1)),
            "{report}"
        );
        assert_eq!(report["ignored_columns"], json!([]));
    }
    assert_eq!(by_name(&app).await["Mia Example"].1.as_deref(), Some("mia@example.org"));
    // Capitals, spaces around, a byte-order mark, spaces or hyphens for underscores.
    let file = "\u{feff} Name ,E-MAIL, Company Name ,COUNTRY,Owner_ID,attr.Plan\nNils,nils@example.org,Acme,SE,,gold\n";
    let report: Value = import(&app, &owner, "text/csv", file.into()).await.json().await.unwrap();
    assert_eq!(report["created"], 1, "{report}");
    let nils: Value = app.get("/api/v1/customers?email=nils@example.org", &owner).await.json().await.unwrap();
    assert_eq!(nils["data"][0]["company_name"], "Acme");
    assert_eq!(nils["data"][0]["country"], "SE");
    assert_eq!(nils["data"][0]["attributes"], json!({"Plan": "gold"}));

    // Refused whole, naming each bad column: unknown, or given twice under two spellings.
    for (file, fields) in [
        ("name,email,notes\nA,a@example.org,hello\n", vec!["header[2]"]),
        ("name,email,Email\nA,a@example.org,b@example.org\n", vec!["header[2]"]),
        ("Name,NAME,nickname\nA,B,C\n", vec!["header[1]", "header[2]"]),
        ("email\na@example.org\n", vec!["header"]),
    ] {
        let body = assert_problem(import(&app, &owner, "text/csv", file.into()).await, 400, "malformed_request").await;
        let named: Vec<&str> =
            body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(named, fields, "{file:?}: {body}");
    }
    assert_eq!(by_name(&app).await.len(), 2, "nothing of a refused file landed");
    // A column without a name is fine while its cells are empty.
    let report: Value = import(&app, &owner, "text/csv", "name,\nOlga,\nPer,oops\n".into()).await.json().await.unwrap();
    assert_eq!((report["created"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(1)), "{report}");
}

#[tokio::test]
async fn an_export_edited_and_imported_back_updates_the_same_customers() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    for body in [
        json!({"name": "No Email One", "city": "Lyon"}),
        json!({"name": "No Email Two", "tags": ["a"]}),
        json!({"name": "With Email", "email": "w@example.org"}),
        json!({"name": "=HYPERLINK(\"http://x.example\",\"y\")", "company_name": "+SUM(1,2)", "city": "@cmd",
               "phone": "+33 1 23 45 67 89", "attributes": {"note": "-5", "q": "'quoted"}}),
    ] {
        assert_eq!(app.post("/api/v1/customers", &owner, body).await.status(), 201);
    }
    let before = by_name(&app).await;
    let export = app
        .client
        .get(app.url("/api/v1/customers/export"))
        .bearer_auth(&owner)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // No cell a spreadsheet would run as a formula.
    let mut reader = csv::Reader::from_reader(export.as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?} would run in a spreadsheet");
        }
    }
    assert!(export.contains("'=HYPERLINK"), "{export}");
    assert!(export.contains("'+SUM(1,2)") && export.contains("'@cmd") && export.contains("'+33123456789"));

    // Edited in place and imported back: the same customers, updated; nobody duplicated.
    let edited = export.replace("No Email One", "No Email Uno").replace("Lyon", "Lille");
    let report: Value = import(&app, &owner, "text/csv", edited).await.json().await.unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64(), report["rejected"].as_u64()),
        (Some(0), Some(4), Some(0)),
        "{report}"
    );
    assert_eq!(report["ignored_columns"], json!(["updated_at", "version"]));
    let after = by_name(&app).await;
    assert_eq!(after.len(), 4);
    assert_eq!(after["No Email Uno"].0, before["No Email One"].0, "updated by id, not created");
    let uno: Value =
        app.get(&format!("/api/v1/customers/{}", after["No Email Uno"].0), &owner).await.json().await.unwrap();
    assert_eq!(uno["city"], "Lille");
    // Every protected cell came back as it was.
    let formula: Value = app
        .get(&format!("/api/v1/customers/{}", after["=HYPERLINK(\"http://x.example\",\"y\")"].0), &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(formula["company_name"], "+SUM(1,2)");
    assert_eq!(formula["city"], "@cmd");
    assert_eq!(formula["phone"], "+33123456789", "stored in E.164");
    assert_eq!(formula["attributes"], json!({"note": "-5", "q": "'quoted"}));
    assert_eq!(formula["version"], 1, "an import that changes nothing changes no version");

    // An id that is not a live customer of this workspace is a rejected row, not a new one.
    let other = app.other_workspace().await;
    let theirs: Value = app.post("/api/v1/customers", &other, json!({"name": "Theirs"})).await.json().await.unwrap();
    let file = format!(
        "id,name\n{},Stolen\n{},Ghost\n{},Renamed Two\n",
        theirs["id"].as_str().unwrap(),
        uuid::Uuid::now_v7(),
        before["No Email Two"].0
    );
    let report: Value = import(&app, &owner, "text/csv", file).await.json().await.unwrap();
    assert_eq!((report["updated"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(2)), "{report}");
    assert_eq!(report["errors"][0]["field"], "id");
    let theirs_now: Value =
        app.get(&format!("/api/v1/customers/{}", theirs["id"].as_str().unwrap()), &other).await.json().await.unwrap();
    assert_eq!(theirs_now["name"], "Theirs");
    // An id row may leave the name out: only the cells given change.
    let file = format!("id,city\n{},Oslo\n", before["No Email Two"].0);
    let report: Value = import(&app, &owner, "text/csv", file).await.json().await.unwrap();
    assert_eq!(report["updated"], 1, "{report}");
    let two: Value =
        app.get(&format!("/api/v1/customers/{}", before["No Email Two"].0), &owner).await.json().await.unwrap();
    assert_eq!((two["name"].as_str(), two["city"].as_str()), (Some("Renamed Two"), Some("Oslo")));
    // NDJSON takes the id too.
    let line = json!({"id": before["With Email"].0, "name": "With Email Too"}).to_string();
    let report: Value = import(&app, &owner, "application/x-ndjson", line).await.json().await.unwrap();
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(by_name(&app).await.len(), 4);
}

#[tokio::test]
async fn a_header_of_unassigned_characters_is_refused() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let res = import(&app, &owner, "text/csv", "\u{92}\u{97c07}".into()).await;
    assert_problem(res, 400, "malformed_request").await;
}

/// An upload cut short (the client's connection ends before the declared length) is refused
/// (`400`), and the row it was cut in does not land: read as an end of file, the cut would have
/// made "Cut Ro" a customer. The same file sent whole lands both rows.
#[tokio::test]
async fn an_import_cut_short_lands_no_truncated_row() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let files = [
        ("text/csv", "name,email\nWhole Row,whole@example.com\nCut Ro"),
        ("application/x-ndjson", "{\"name\":\"Whole Row\",\"email\":\"whole@example.com\"}\n{\"name\":\"Cut Ro"),
    ];
    for (content_type, body) in files {
        let request = format!(
            "POST /api/v1/customers/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {owner}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len() + 100
        );
        let answer = raw_exchange(&app, &request).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{content_type}: {answer}");
        assert!(answer.contains("did not arrive whole"), "{content_type}: {answer}");
        assert!(answer.contains("the body ended before the length its headers announce"), "{content_type}: {answer}");
        let cut = json_of(app.get("/api/v1/customers?q=Cut", &owner).await, 200).await;
        assert_eq!(cut["data"].as_array().unwrap().len(), 0, "{content_type}: the cut row landed: {cut}");
    }
    // Whole, the same file lands both rows.
    let whole = "name,email\nWhole Row,whole@example.com\nCut Row,cut@example.com\n";
    let res = import(&app, &owner, "text/csv", whole.into()).await;
    assert_eq!(res.status(), 200);
    let cut = json_of(app.get("/api/v1/customers?q=Cut", &owner).await, 200).await;
    assert_eq!(cut["data"].as_array().unwrap().len(), 1, "{cut}");
}
