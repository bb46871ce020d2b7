package io.factoryrunner.api;

import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.execute;
import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The admin token of a first start, written where the file system cannot keep it to its owner: a zip file system,
 * which has no POSIX permissions (and accepts them without keeping them), as a Windows drive or a FAT stick has none.
 */
class FirstAdminTokenTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();

    @Test
    void on_a_file_system_without_posix_permissions_the_token_is_written_and_the_log_says_who_may_read_it()
            throws Exception {
        DataSource ds = factory.start(factory.home(TestDatabase.H2)).dataSource();
        // as before the first start: no token yet
        execute(ds, "DELETE FROM api_token");
        ApiTokens tokens = new ApiTokens(ds, Clock.systemUTC());
        int logged = CapturedLog.text().length();

        try (FileSystem zip = FileSystems.newFileSystem(factory.dir().resolve("data.zip"), Map.of("create", "true"))) {
            Path file = zip.getPath("/data/admin.token");
            assertThat(zip.supportedFileAttributeViews()).doesNotContain("posix");

            assertThat(tokens.createFirstAdminToken(file)).isTrue();

            String secret = Files.readString(file).trim();
            assertThat(tokens.verify(secret)).hasValueSatisfying(caller -> {
                assertThat(caller.name()).isEqualTo("admin");
                assertThat(caller.role()).isEqualTo(ApiTokens.Role.ADMIN);
            });
            assertThat(CapturedLog.text().substring(logged))
                    .contains("created the admin token, written to /data/admin.token (its file system has no POSIX"
                            + " permissions, so whoever may read that folder may read the token")
                    .doesNotContain("readable by its owner only")
                    .doesNotContain(secret);
        }
        assertThat(count(ds, "SELECT COUNT(*) FROM api_token WHERE name = 'admin'")).isEqualTo(1);
        // the next start makes none
        assertThat(tokens.createFirstAdminToken(factory.dir().resolve("again.token"))).isFalse();
        assertThat(factory.dir().resolve("again.token")).doesNotExist();
    }
}
