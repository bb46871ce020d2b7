package io.factoryrunner.testsupport;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * What a test of a whole factory sets up: a home in a directory of its own, the settings every home of the test
 * class shares, the factories the test starts (stopped after it, whatever it left running) and, when asked for, a
 * stand-in HTTP API ({@code api.port}) and an SMTP server that the alerts go to. Registered per test instance:
 *
 * <pre>
 * &#64;RegisterExtension
 * final FactoryExtension factory = new FactoryExtension().settings(home -&gt; home.route("call.camel.yaml", CALLER));
 * final WireMockServer api = factory.api();
 * </pre>
 */
public final class FactoryExtension implements BeforeEachCallback, AfterEachCallback {

    private final Path dir;
    private final List<UnaryOperator<FactoryHome>> settings = new ArrayList<>();
    private final List<FactoryHome.Running> started = new ArrayList<>();
    private WireMockServer api;
    private int apiPort;
    private GreenMail mail;
    private int mailPort;

    public FactoryExtension() {
        try {
            dir = Files.createTempDirectory("factory-test");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Settings applied, in the order given, to every home {@link #home} makes. */
    public FactoryExtension settings(UnaryOperator<FactoryHome> setting) {
        settings.add(setting);
        return this;
    }

    /** The test's directory: the home of the factories it starts. */
    public Path dir() {
        return dir;
    }

    /** A stand-in for the HTTP API the jobs call, started before the test; homes find its port in {@code api.port}. */
    public WireMockServer api() {
        if (api == null) {
            api = new WireMockServer(options().dynamicPort());
        }
        return api;
    }

    /** A new stand-in API, started, on the port of the one the test stopped: the API comes back, with no stubs. */
    public WireMockServer apiAgain() {
        api = new WireMockServer(options().port(apiPort));
        api.start();
        return api;
    }

    /**
     * An SMTP server started before the test; homes mail their alerts to it, to ops@example.com, and look for alerts
     * to send every 100 ms.
     */
    public GreenMail mail() {
        if (mail == null) {
            mailPort = FactoryHome.freePort();
            mail = new GreenMail(new ServerSetup(mailPort, "127.0.0.1", ServerSetup.PROTOCOL_SMTP));
        }
        return mail;
    }

    /** A new SMTP server, started, on the port of the one the test stopped: the mail server comes back. */
    public GreenMail mailAgain() {
        mail = new GreenMail(new ServerSetup(mailPort, "127.0.0.1", ServerSetup.PROTOCOL_SMTP));
        mail.start();
        return mail;
    }

    public int mailPort() {
        mail();
        return mailPort;
    }

    /** A home on a new database of its own, with the servers' settings and then the test class's. */
    public FactoryHome home(TestDatabase db) {
        FactoryHome home = new FactoryHome(dir, db);
        if (api != null) {
            home.property("api.port", String.valueOf(api.port()));
        }
        if (mail != null) {
            home.property("factory.mail.host", "127.0.0.1")
                    .property("factory.mail.port", String.valueOf(mailPort))
                    .property("factory.alerts.to", "ops@example.com")
                    .property("factory.alerts.poll-interval", "100");
        }
        for (UnaryOperator<FactoryHome> setting : settings) {
            home = setting.apply(home);
        }
        return home;
    }

    /** Starts a factory on the home; stopped after the test if the test did not stop it. */
    public FactoryHome.Running start(FactoryHome home) {
        return started(home.start());
    }

    /** Starts a factory on the home with a clock the test controls. */
    public FactoryHome.Running start(FactoryHome home, Clock clock) {
        return started(home.start(clock));
    }

    private FactoryHome.Running started(FactoryHome.Running running) {
        started.add(running);
        return running;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        if (api != null) {
            api.start();
            apiPort = api.port();
        }
        if (mail != null) {
            mail.start();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        try {
            for (int i = started.size() - 1; i >= 0; i--) {
                started.get(i).close();
            }
        } finally {
            if (api != null) {
                api.stop();
            }
            if (mail != null) {
                mail.stop();
            }
            delete(dir);
        }
    }

    private static void delete(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
