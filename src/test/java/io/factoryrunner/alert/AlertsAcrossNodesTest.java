package io.factoryrunner.alert;

import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.execute;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.icegreen.greenmail.util.GreenMail;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import jakarta.mail.MessagingException;
import jakarta.mail.internet.MimeMessage;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The outbox with several nodes on one database: a node claims an alert before it mails it, every mail carries
 * its alert's Message-ID, and a digest is written once per fire of its cron. Real PostgreSQL and SMTP (GreenMail).
 */
class AlertsAcrossNodesTest {

    static final int ALERTS = 100;

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final GreenMail smtp = factory.mail();

    FactoryHome nodeA(TestDatabase db) {
        return factory.home(db)
                .property("factory.node.id", "node-a")
                // two factories in one JVM: a context name each keeps their Quartz schedulers apart
                .property("camel.main.name", "factory-a")
                .property("factory.alerts.batch-size", "5");
    }

    FactoryHome nodeB(FactoryHome nodeA) {
        return nodeA.anotherNode(factory.dir().resolve("node-b")).property("factory.node.id", "node-b")
                .property("camel.main.name", "factory-b");
    }

    @Test
    void alerts_written_while_two_nodes_send_are_mailed_once_each_with_their_message_id() throws Exception {
        FactoryHome a = nodeA(TestDatabase.POSTGRESQL);
        var first = factory.start(a);
        var second = factory.start(nodeB(a));
        AlertOutbox outbox = bean(first, "alertOutbox", AlertOutbox.class);
        for (int i = 1; i <= ALERTS; i++) {
            outbox.event("load", "event " + i, "the text of event " + i);
        }
        DataSource ds = first.dataSource();
        await().atMost(Duration.ofSeconds(60))
                .until(() -> count(ds, "SELECT COUNT(*) FROM alerts WHERE status = 'pending'") == 0);

        assertThat(smtp.getReceivedMessages()).as("mails").hasSize(ALERTS);
        String installation = (String) rows(ds, "SELECT installation_id FROM factory_installation").get(0)
                .get("installation_id");
        List<String> expected = rows(ds, "SELECT alert_id FROM alerts").stream()
                .map(r -> "<alert-" + r.get("alert_id") + "." + installation + "@factory-runner>").toList();
        assertThat(expected).hasSize(ALERTS);
        assertThat(messageIds()).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void every_digest_slot_is_written_and_mailed_once_though_both_nodes_fire_it() throws Exception {
        FactoryHome a = nodeA(TestDatabase.POSTGRESQL).property("factory.digest.cron", "* * * * * ?");
        var first = factory.start(a);
        var second = factory.start(nodeB(a));
        DataSource ds = first.dataSource();
        await().atMost(Duration.ofSeconds(60)).until(() -> count(ds,
                "SELECT COUNT(*) FROM alerts WHERE kind = 'digest'") >= 3
                && CapturedLog.text().contains("already written by another node"));
        first.app().context().getRouteController().stopRoute("digest");
        second.app().context().getRouteController().stopRoute("digest");
        await().atMost(Duration.ofSeconds(60))
                .until(() -> count(ds, "SELECT COUNT(*) FROM alerts WHERE status = 'pending'") == 0);

        long digests = count(ds, "SELECT COUNT(*) FROM alerts WHERE kind = 'digest'");
        assertThat(count(ds, "SELECT COUNT(DISTINCT slot_at) FROM alerts WHERE kind = 'digest'"))
                .as("slots with a digest").isEqualTo(digests);
        assertThat(messageIds()).hasSize((int) digests).doesNotHaveDuplicates();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_alert_meant_once_is_written_once_though_two_nodes_found_none_and_write_it_at_once(TestDatabase db)
            throws Exception {
        FactoryHome a = nodeA(db).property("factory.alerts.poll-interval", "1h");
        var first = factory.start(a);
        DataSource ds = first.dataSource();
        AlertOutbox mine = bean(first, "alertOutbox", AlertOutbox.class);
        // on H2 one factory holds the file: a second outbox on the same database stands for the other node
        AlertOutbox other = db == TestDatabase.POSTGRESQL
                ? bean(factory.start(nodeB(a).property("factory.alerts.poll-interval", "1h")), "alertOutbox",
                        AlertOutbox.class)
                : mine;
        Map<String, String> values = Map.of("factory", "factory-a", "job", "load", "run", "7", "node", "node-gone",
                "started_at", "an hour ago", "silent_for", "1h", "last_seen", "an hour ago");
        CyclicBarrier together = new CyclicBarrier(2);
        List<CompletableFuture<Boolean>> writes = List.of(mine, other).stream()
                .map(outbox -> CompletableFuture.supplyAsync(() -> {
                    try {
                        together.await(10, TimeUnit.SECONDS);
                        return outbox.enqueueOnce(AlertKind.JOB_BLOCKED, "load", "job-blocked:7", "job-blocked:7",
                                values);
                    } catch (Exception e) {
                        throw new CompletionException(e);
                    }
                })).toList();

        assertThat(writes.stream().map(CompletableFuture::join)).containsExactlyInAnyOrder(true, false);
        assertThat(count(ds, "SELECT COUNT(*) FROM alerts WHERE fingerprint = 'job-blocked:7'")).isEqualTo(1);
        assertThat(mine.enqueueOnce(AlertKind.JOB_BLOCKED, "load", "job-blocked:8", "job-blocked:8", values))
                .as("another run's alert").isTrue();
        assertThat(count(ds, "SELECT COUNT(*) FROM alerts WHERE kind = 'job_blocked'")).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_alert_claimed_by_a_node_that_died_is_mailed_once_its_claim_has_expired_and_not_before(TestDatabase db)
            throws Exception {
        var running = factory.start(nodeA(db).property("factory.alerts.poll-interval", "1h"));
        DataSource ds = running.dataSource();
        AlertOutbox outbox = bean(running, "alertOutbox", AlertOutbox.class);
        outbox.event("load", "claim expired", "the node died an hour ago");
        outbox.event("load", "claim running", "the node may still be sending it");
        Instant now = Instant.now();
        claim(ds, "claim expired", "node-gone", now.minus(Duration.ofHours(1)));
        claim(ds, "claim running", "node-gone", now.plus(Duration.ofHours(1)));

        assertThat(bean(running, "notifier", Notifier.class).sendPending()).isEqualTo(1);
        assertThat(smtp.getReceivedMessages()).singleElement()
                .satisfies(m -> assertThat(m.getSubject()).endsWith("claim expired"));
        assertThat(rows(ds, "SELECT subject, status, claimed_by FROM alerts ORDER BY alert_id"))
                .extracting(r -> r.get("subject") + " " + r.get("status") + " " + r.get("claimed_by"))
                .containsExactly("[factory factory-a] load: claim expired sent node-a",
                        "[factory factory-a] load: claim running pending node-gone");
    }

    @Test
    void an_alert_mailed_again_after_its_node_died_before_marking_it_carries_the_same_message_id()
            throws Exception {
        FactoryHome a = nodeA(TestDatabase.POSTGRESQL).property("factory.alerts.poll-interval", "1h");
        var first = factory.start(a);
        var second = factory.start(nodeB(a));
        DataSource ds = first.dataSource();
        bean(first, "alertOutbox", AlertOutbox.class).event("load", "mailed twice", "once before the crash");
        assertThat(bean(first, "notifier", Notifier.class).sendPending()).isEqualTo(1);
        // what a kill -9 between the mail and its mark leaves, once the claim has expired
        assertThat(execute(ds, """
                UPDATE alerts SET status = 'pending', sent_at = NULL, claimed_until = ?
                 WHERE claimed_by = 'node-a'""", Timestamp.from(Instant.now().minus(Duration.ofHours(1)))))
                .isEqualTo(1);

        assertThat(bean(second, "notifier", Notifier.class).sendPending()).isEqualTo(1);
        List<String> ids = messageIds();
        assertThat(ids).hasSize(2).allSatisfy(id -> assertThat(id).matches("<alert-[0-9]+\\.[0-9a-f-]{36}"
                + "@factory-runner>"));
        assertThat(ids.get(1)).isEqualTo(ids.get(0));
        assertThat(rows(ds, "SELECT status, claimed_by FROM alerts")).containsExactly(
                Map.of("status", "sent", "claimed_by", "node-b"));
    }

    static <T> T bean(FactoryHome.Running running, String name, Class<T> type) {
        return running.app().context().getRegistry().lookupByNameAndType(name, type);
    }

    /** Leaves the alert with this subject ending as a node leaves the alerts it claimed. */
    static void claim(DataSource ds, String subjectEnd, String node, Instant until) throws Exception {
        assertThat(execute(ds, "UPDATE alerts SET claimed_by = ?, claimed_until = ? WHERE subject LIKE ?", node,
                Timestamp.from(until), "%" + subjectEnd)).isEqualTo(1);
    }

    List<String> messageIds() throws MessagingException {
        List<String> ids = new ArrayList<>();
        for (MimeMessage m : smtp.getReceivedMessages()) {
            ids.add(m.getMessageID());
        }
        return ids;
    }
}
