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

    public static UserId[] Users(int count) => Enumerable.Range(0, count).Select(static i => UserId.Parse($"@user{i}:bench.test")).ToArray();
}
