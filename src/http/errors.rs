//! Error pages sent by ringlb itself: HAProxy 2.6's texts (taken from its binary), with
//! lower-case header names as HAProxy 2.6 puts them on the wire, plus `connection: close`: the
//! proxy closes the client connection after any of these.

/// A complete HTTP/1.1 response. `$len` is the body length, checked by a unit test.
macro_rules! page {
    ($code:literal, $title:literal, $len:literal, $text:literal) => {
        concat!(
            "HTTP/1.1 ",
            $code,
            " ",
            $title,
            "\r\n",
            "content-length: ",
            $len,
            "\r\n",
            "cache-control: no-cache\r\n",
            "content-type: text/html\r\n",
            "connection: close\r\n",
            "\r\n",
            "<html><body><h1>",
            $code,
            " ",
            $title,
            "</h1>\n",
            $text,
            "\n</body></html>\n"
        )
        .as_bytes()
    };
}

const E200: &[u8] = page!("200", "OK", "58", "Service ready.");
const E400: &[u8] = page!(
    "400",
    "Bad request",
    "90",
    "Your browser sent an invalid request."
);
const E401: &[u8] = page!(
    "401",
    "Unauthorized",
    "112",
    "You need a valid user and password to access this content."
);
const E403: &[u8] = page!(
    "403",
    "Forbidden",
    "93",
    "Request forbidden by administrative rules."
);
const E404: &[u8] = page!("404", "Not Found", "83", "The resource could not be found.");
const E405: &[u8] = page!(
    "405",
    "Method Not Allowed",
    "146",
    "A request was made of a resource using a request method not supported by that resource"
);
const E407: &[u8] = page!(
    "407",
    "Unauthorized",
    "112",
    "You need a valid user and password to access this content."
);
const E408: &[u8] = page!(
    "408",
    "Request Time-out",
    "110",
    "Your browser didn't send a complete request in time."
);
const E410: &[u8] = page!(
    "410",
    "Gone",
    "114",
    "The resource is no longer available and will not be available again."
);
const E413: &[u8] = page!(
    "413",
    "Payload Too Large",
    "106",
    "The request entity exceeds the maximum allowed."
);
// Not in HAProxy 2.6: ringlb's text in the same style.
const E414: &[u8] = page!(
    "414",
    "URI Too Long",
    "107",
    "The request target is longer than the server accepts."
);
const E421: &[u8] = page!(
    "421",
    "Misdirected Request",
    "104",
    "Request sent to a non-authoritative server."
);
const E422: &[u8] = page!(
    "422",
    "Unprocessable Content",
    "116",
    "The server cannot process the contained instructions."
);
const E425: &[u8] = page!("425", "Too Early", "80", "Your browser sent early data.");
const E429: &[u8] = page!(
    "429",
    "Too Many Requests",
    "117",
    "You have sent too many requests in a given amount of time."
);
// Not in HAProxy 2.6: ringlb's text in the same style.
const E431: &[u8] = page!(
    "431",
    "Request Header Fields Too Large",
    "134",
    "The request header fields are larger than the server accepts."
);
const E500: &[u8] = page!(
    "500",
    "Internal Server Error",
    "97",
    "An internal server error occurred."
);
// The leading dot is in HAProxy 2.6's own page; kept for byte compatibility.
const E501: &[u8] = page!(
    "501",
    "Not Implemented",
    "136",
    ".The server does not support the functionality required to fulfill the request."
);
const E502: &[u8] = page!(
    "502",
    "Bad Gateway",
    "107",
    "The server returned an invalid or incomplete response."
);
const E503: &[u8] = page!(
    "503",
    "Service Unavailable",
    "107",
    "No server is available to handle this request."
);
const E504: &[u8] = page!(
    "504",
    "Gateway Time-out",
    "92",
    "The server didn't respond in time."
);
// Not in HAProxy 2.6: ringlb's text in the same style.
const E505: &[u8] = page!(
    "505",
    "HTTP Version Not Supported",
    "117",
    "The HTTP version of the request is not supported."
);

/// The reason phrase HAProxy 2.6 gives a status (its `http_get_reason()`, as observed on the
/// wire for every code 200..=599): used for the answers ringlb builds and for `set-status`
/// without `reason`. Some differ from RFC 9110 (302 "Moved Temporarily", 408 "Request
/// Time-out", 413 "Request Entity Too Large", 502 "Bad Gateway or Proxy Error", ...): kept as
/// HAProxy sends them. Codes without a phrase get their class's, as in HAProxy.
pub fn reason(status: u16) -> &'static str {
    let known = match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        210 => "Content Different",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        310 => "Too many Redirects",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Time-out",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested range unsatisfiable",
        417 => "Expectation failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Method failure",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        449 => "Retry With",
        450 => "Blocked by Windows Parental Controls",
        451 => "Unavailable For Legal Reasons",
        456 => "Unrecoverable Error",
        499 => "client has closed connection",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway or Proxy Error",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        505 => "HTTP Version not supported",
        506 => "Variant also negotiate",
        507 => "Insufficient storage",
        508 => "Loop detected",
        509 => "Bandwidth Limit Exceeded",
        510 => "Not extended",
        511 => "Network authentication required",
        520 => "Web server is returning an unknown error",
        _ => "",
    };
    match status {
        _ if !known.is_empty() => known,
        100..=199 => "Informational",
        200..=299 => "Success",
        300..=399 => "Redirection",
        400..=499 => "Client Error",
        500..=599 => "Server Error",
        _ => "Other",
    }
}

/// The full response for `status`; an unknown status gets the 500 page.
pub fn error_response(status: u16) -> &'static [u8] {
    match status {
        200 => E200,
        400 => E400,
        401 => E401,
        403 => E403,
        404 => E404,
        405 => E405,
        407 => E407,
        408 => E408,
        410 => E410,
        413 => E413,
        414 => E414,
        421 => E421,
        422 => E422,
        425 => E425,
        429 => E429,
        431 => E431,
        500 => E500,
        501 => E501,
        502 => E502,
        503 => E503,
        504 => E504,
        505 => E505,
        _ => E500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [u16; 22] = [
        200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 414, 421, 422, 425, 429, 431, 500, 501,
        502, 503, 504, 505,
    ];

    fn split(page: &[u8]) -> (&str, &str) {
        let text = std::str::from_utf8(page).unwrap();
        text.split_once("\r\n\r\n").unwrap()
    }

    #[test]
    fn content_length_matches_body() {
        for status in ALL {
            let (head, body) = split(error_response(status));
            let want = format!("\r\ncontent-length: {}\r\n", body.len());
            assert!(head.contains(&want), "{status}: {head}");
            assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{status}");
            assert!(
                body.starts_with(&format!("<html><body><h1>{status} ")),
                "{status}"
            );
        }
    }

    #[test]
    fn headers_are_complete() {
        for status in ALL {
            let (head, _) = split(error_response(status));
            for line in [
                "cache-control: no-cache",
                "content-type: text/html",
                "connection: close",
            ] {
                assert!(head.lines().any(|l| l == line), "{status}: {line}");
            }
        }
    }

    #[test]
    fn haproxy_texts() {
        // Bytes seen from HAProxy 2.6.12 with curl (503 from a backend without servers).
        let (_, body) = split(error_response(503));
        assert_eq!(
            body,
            "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
        );
        assert!(error_response(503)
            .starts_with(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\n"));
        assert!(
            error_response(400).starts_with(b"HTTP/1.1 400 Bad request\r\ncontent-length: 90\r\n")
        );
        assert!(error_response(504)
            .starts_with(b"HTTP/1.1 504 Gateway Time-out\r\ncontent-length: 92\r\n"));
        assert!(error_response(501)
            .starts_with(b"HTTP/1.1 501 Not Implemented\r\ncontent-length: 136\r\n"));
    }

    #[test]
    fn haproxy_reasons() {
        // As HAProxy 2.6.12 sends them for `return status N`.
        for (status, want) in [
            (200, "OK"),
            (302, "Moved Temporarily"),
            (408, "Request Time-out"),
            (413, "Request Entity Too Large"),
            (415, "Unsupported Media Type"),
            (422, "Unprocessable Content"),
            (451, "Unavailable For Legal Reasons"),
            (502, "Bad Gateway or Proxy Error"),
            (504, "Gateway Time-out"),
            (299, "Success"),
            (599, "Server Error"),
            (999, "Other"),
        ] {
            assert_eq!(reason(status), want, "{status}");
        }
    }

    #[test]
    fn unknown_status_is_500() {
        assert_eq!(error_response(599), error_response(500));
        assert_eq!(error_response(0), error_response(500));
    }
}
