using Npgsql;

namespace Presence.PostgreSql.Benchmarks;

/// <summary>The benchmark database (<c>PRESENCE_POSTGRES</c>) and a schema per benchmark class.</summary>
internal static class Database
{
    public static NpgsqlDataSource Open() => NpgsqlDataSource.Create(
        Environment.GetEnvironmentVariable("PRESENCE_POSTGRES")
        ?? throw new InvalidOperationException("PRESENCE_POSTGRES is not set: start a server with eval \"$(.ci/postgres.sh start)\"."));

    public static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A fresh schema (dropped first) and a store on it, migrated.</summary>
    public static async Task<(NpgsqlDataSource DataSource, PostgreSqlPresenceStore Store)> OpenStoreAsync(string schema)
    {
        var dataSource = Open();
        await ExecuteAsync(dataSource, $"DROP SCHEMA IF EXISTS {schema} CASCADE");
        var store = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { Schema = schema });
        await store.MigrateAsync();
        return (dataSource, store);
    }

    /// <summary>Disposes the store, drops its schema and closes the data source.</summary>
    public static async Task CloseStoreAsync(NpgsqlDataSource dataSource, PostgreSqlPresenceStore store, string schema)
    {
        await store.DisposeAsync();
        await ExecuteAsync(dataSource, $"DROP SCHEMA IF EXISTS {schema} CASCADE");
        await dataSource.DisposeAsync();
    }

    public static UserId[] Users(int count) => Enumerable.Range(0, count).Select(static i => UserId.Parse($"@user{i}:bench.test")).ToArray();
}
