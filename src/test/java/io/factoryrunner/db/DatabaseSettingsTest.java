package io.factoryrunner.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which databases only this process can have open: there, every run left running at start is dead. */
class DatabaseSettingsTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "jdbc:h2:file:/srv/factory/data/factory;WRITE_DELAY=0 | true",
        "jdbc:h2:./data/factory                               | true",
        "jdbc:h2:mem:factory                                  | true",
        "jdbc:h2:file:/srv/factory/data/factory;AUTO_SERVER=TRUE | false",
        "jdbc:h2:file:/srv/factory;auto_server = true         | false",
        "jdbc:h2:tcp://db:9092/factory                        | false",
        "jdbc:h2:ssl://db:9092/factory                        | false",
        "jdbc:postgresql://db:5432/factory                    | false"})
    void only_an_embedded_h2_is_this_process_s_alone(String url, boolean exclusive) {
        assertThat(new DatabaseSettings(url, "sa", "", 2, Duration.ofSeconds(1)).isExclusive()).as(url)
                .isEqualTo(exclusive);
    }
}
