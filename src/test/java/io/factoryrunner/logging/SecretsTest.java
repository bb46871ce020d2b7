package io.factoryrunner.logging;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The documented rule of what is a secret by name, what is a placeholder, and what a URL keeps in clear. */
class SecretsTest {

    @ParameterizedTest
    @ValueSource(strings = {"factory.db.password", "customer.db-password", "smtp-pwd", "factory.db.pwd",
            "analytics.api-key", "analytics.api-token", "partner.bearer-token", "webhook.shared-secret",
            "ftp.credentials", "sftp.private-key", "camel.component.x.keystorePassword", "x.clientSecret", "x.key",
            "FACTORY_DB_PASSWORD", "ANALYTICS_API_KEY", "DB_PWD", "apiKey", "access_token"})
    void a_name_that_says_password_secret_token_credentials_or_key_is_secret(String key) {
        assertThat(Secrets.isSecretKey(key)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"analytics.api-key-header", "factory.db.user", "factory.mail.username", "job.x.max-tokens",
            "oauth.token-url", "source.group-by", "x.sort-key", "factory.alerts.to", "PWD", "OLDPWD",
            "camel.server.host"})
    void an_ordinary_name_is_not_secret(String key) {
        assertThat(Secrets.isSecretKey(key)).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "  ", "none", "NONE", "null", "changeme", "change-me", "placeholder", "n/a",
            "<your key>", "${ANALYTICS_API_KEY}", "{{vault:key}}", "xxx", "******"})
    void a_placeholder_is_never_a_secret(String value) {
        Secrets.register(value);
        assertThat(Secrets.isPlaceholder(value)).isTrue();
        assertThat(Secrets.mask("value [" + value + "]")).isEqualTo("value [" + value + "]");
    }

    @ParameterizedTest
    @ValueSource(strings = {"ab", "x", "hunter22", "s3cr3t-value"})
    void a_real_value_is_no_placeholder(String value) {
        assertThat(Secrets.isPlaceholder(value)).isFalse();
    }

    @Test
    void a_url_keeps_no_secret_in_its_user_info_or_its_secret_parameters() {
        Secrets.register("path-secret-8c1d");
        String url = "https://ops:pa55word@api.example.com/v1/items/path-secret-8c1d?page=2&api_key=k1&token=t1"
                + "&X-Signature-Token=s1";
        assertThat(Secrets.maskUrl(url)).isEqualTo("https://ops:******@api.example.com/v1/items/******?page=2"
                + "&api_key=******&token=******&X-Signature-Token=******");
    }

    @Test
    void a_jdbc_url_keeps_no_password_parameter() {
        assertThat(Secrets.maskUrl("jdbc:h2:file:./data/factory;WRITE_DELAY=0;PASSWORD=h2pass"))
                .isEqualTo("jdbc:h2:file:./data/factory;WRITE_DELAY=0;PASSWORD=******");
        assertThat(Secrets.maskUrl("jdbc:postgresql://db:5432/factory?user=factory&password=pgpass&pwd=x1"))
                .isEqualTo("jdbc:postgresql://db:5432/factory?user=factory&password=******&pwd=******");
    }
}
