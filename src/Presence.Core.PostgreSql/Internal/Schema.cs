using Npgsql;

namespace Presence.PostgreSql.Internal;

/// <summary>
/// The store's tables and their versions. Migrations run in one transaction under a transaction-level advisory lock keyed by
/// the schema name, so engines starting together against one database migrate once, in turn; each applied version is a row
/// of <c>schema_version</c>.
/// </summary>
internal static class Schema
{
    /// <summary>The version this build writes and reads.</summary>
    public const int Current = 2;

    /// <summary>Statements taking the schema from version i to i + 1 (index 0: empty to v1). {0} is the quoted schema name.</summary>
    private static readonly string[] Steps =
    [
        // v1: presence without visibility, presence lists.
        """
        CREATE TABLE {0}.presence_records (
            user_id text PRIMARY KEY,
            state smallint NOT NULL,
            status_msg text,
            last_active timestamptz);
        CREATE TABLE {0}.presence_lists (
            observer text NOT NULL,
            observed text NOT NULL,
            state smallint NOT NULL,
            PRIMARY KEY (observer, observed));
        """,

        // v2: per-user visibility; peer subscriptions with their promise lifetimes.
        """
        ALTER TABLE {0}.presence_records ADD COLUMN visibility smallint NOT NULL DEFAULT 0;
        CREATE TABLE {0}.peer_subscriptions (
            peer text NOT NULL,
            user_id text NOT NULL,
            expires_at timestamptz NOT NULL,
            PRIMARY KEY (peer, user_id));
        CREATE INDEX ON {0}.peer_subscriptions (expires_at);
        """,
    ];

    /// <summary>Quotes a validated schema name.</summary>
    public static string Quote(string schema) => "\"" + schema + "\"";

    /// <summary>Brings the schema to <paramref name="target"/>; returns (version found, version now).</summary>
    public static async Task<(int From, int To)> MigrateAsync(NpgsqlDataSource dataSource, string schema, int target, CancellationToken cancellationToken)
    {
        string quoted = Quote(schema);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                // The lock first: CREATE SCHEMA IF NOT EXISTS itself races between two sessions.
                await ExecuteAsync(connection, "SELECT pg_advisory_xact_lock(@key)", cancellationToken, new NpgsqlParameter<long>("key", LockKey(schema))).ConfigureAwait(false);
                await ExecuteAsync(connection, $"CREATE SCHEMA IF NOT EXISTS {quoted}; CREATE TABLE IF NOT EXISTS {quoted}.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());", cancellationToken).ConfigureAwait(false);
                int from;
                var read = new NpgsqlCommand($"SELECT coalesce(max(version), 0) FROM {quoted}.schema_version", connection, transaction);
                await using (read.ConfigureAwait(false))
                {
                    from = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
                }

                if (from > Current)
                {
                    throw new PostgreSqlPresenceStoreException($"PostgreSQL presence store: schema {schema} is at version {from}, newer than this build understands ({Current}); upgrade the package.");
                }

                for (int version = from; version < target; version++)
                {
                    await ExecuteAsync(connection, string.Format(System.Globalization.CultureInfo.InvariantCulture, Steps[version], quoted), cancellationToken).ConfigureAwait(false);
                    await ExecuteAsync(connection, $"INSERT INTO {quoted}.schema_version (version) VALUES (@v)", cancellationToken, new NpgsqlParameter<int>("v", version + 1)).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return (from, Math.Max(from, target));
            }
        }
    }

    /// <summary>A stable 64-bit key for the schema's advisory lock (FNV-1a over the name).</summary>
    internal static long LockKey(string schema)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in "presence-core:" + schema)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return unchecked((long)hash);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.AddRange(parameters);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
