// A JVM client for Honk's egress tests: `java Fetch.java URL [METHOD]` sends one request and prints
// `status=<code> bytes=<body length> sha256=<hex of the body>` on one line.
//
// It goes where the JVM's standard proxy settings say (-Dhttps.proxyHost/-Dhttps.proxyPort,
// -Dhttp.proxyHost/-Dhttp.proxyPort, -Dhttp.nonProxyHosts, e.g. in JAVA_TOOL_OPTIONS), through
// ProxySelector.getDefault(), and trusts what -Djavax.net.ssl.trustStore says. It streams the body
// into the digest, never holding it whole. Exit status: 0 for a 1xx-3xx answer, 1 for 4xx-5xx, 2 when
// no answer came (the error on stderr).

import java.io.InputStream;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;

public class Fetch {
    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: java Fetch.java URL [METHOD]");
            System.exit(2);
        }
        String method = args.length > 1 ? args[1].toUpperCase() : "GET";
        HttpClient client = HttpClient.newBuilder()
                .proxy(ProxySelector.getDefault())
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(20))
                .build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0]))
                .timeout(Duration.ofSeconds(60))
                .method(method, HttpRequest.BodyPublishers.noBody())
                .build();
        try {
            HttpResponse<InputStream> response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            long length = 0;
            byte[] buffer = new byte[65536];
            try (InputStream body = response.body()) {
                for (int n; (n = body.read(buffer)) != -1; ) {
                    digest.update(buffer, 0, n);
                    length += n;
                }
            }
            System.out.println("status=" + response.statusCode() + " bytes=" + length
                    + " sha256=" + HexFormat.of().formatHex(digest.digest()));
            System.exit(response.statusCode() < 400 ? 0 : 1);
        } catch (Exception e) {
            System.err.println("error: " + e);
            System.exit(2);
        }
    }
}
