package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the factory's HTTP server shows, and to whom. */
class HttpExposureTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    @Test
    void the_http_server_answers_this_machine_only_by_default() throws Exception {
        InetAddress other = otherAddressOfThisMachine();
        FactoryHome home = factory.home(TestDatabase.H2);
        int port = home.withHttpServer();
        try (var running = factory.start(home)) {
            assertThat(get(port, "/observe/health").statusCode()).isEqualTo(200);
            assertThatThrownBy(() -> connect(other, port)).isInstanceOf(ConnectException.class);
        }
    }

    @Test
    void camel_server_host_opens_the_http_server_to_other_addresses() throws Exception {
        InetAddress other = otherAddressOfThisMachine();
        FactoryHome home = factory.home(TestDatabase.H2).property("camel.server.host", "0.0.0.0");
        int port = home.withHttpServer();
        try (var running = factory.start(home)) {
            connect(other, port);
        }
    }

    @Test
    void health_details_carry_no_database_url() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2);
        int port = home.withHttpServer();
        try (var running = factory.start(home)) {
            HttpResponse<String> health = get(port, "/observe/health?data=true&exposureLevel=full");
            assertThat(health.body()).contains("\"database.dialect\":\"H2\"").doesNotContain("jdbc:")
                    .doesNotContain(dir.toString());
        }
    }

    @Test
    void the_info_endpoint_is_neither_advertised_nor_served() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2);
        int port = home.withHttpServer();
        int logged = CapturedLog.text().length();
        try (var running = factory.start(home)) {
            assertThat(CapturedLog.text().substring(logged)).contains(":" + port + "/observe/health")
                    .doesNotContain(":" + port + "/observe/info");
            assertThat(get(port, "/observe/info").statusCode()).isEqualTo(404);
        }
    }

    private static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return TestHttp.client().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void connect(InetAddress address, int port) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(address, port), 5_000);
        }
    }

    /** An IPv4 address of this machine other than the loopback one; the test is skipped on a machine without. */
    private static InetAddress otherAddressOfThisMachine() throws SocketException {
        Optional<InetAddress> address = NetworkInterface.networkInterfaces().filter(HttpExposureTest::isUp)
                .flatMap(NetworkInterface::inetAddresses)
                .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress()).findFirst();
        assumeTrue(address.isPresent(), "this machine has no address but the loopback one");
        return address.get();
    }

    private static boolean isUp(NetworkInterface network) {
        try {
            return network.isUp();
        } catch (SocketException e) {
            // an interface whose state cannot be read offers no address to test with
            return false;
        }
    }
}
