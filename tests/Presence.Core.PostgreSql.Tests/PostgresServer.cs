using System.Diagnostics;
using Npgsql;

namespace Presence.Core.PostgreSql.Tests;

/// <summary>
/// The throwaway PostgreSQL server of <c>.ci/postgres.sh</c>: its connection string (<c>PRESENCE_POSTGRES</c>), a schema per
/// test, and stopping and starting it (connection-loss tests). Without a server the tests are skipped locally, and fail
/// under <c>CI=true</c>.
/// </summary>
internal static class PostgresServer
{
    public const string HowToStart = "start one with: eval \"$(.ci/postgres.sh start)\" (Debian's postgresql; see README, 'PostgreSQL store')";

    private static readonly Lazy<string?> Reachable = new(Probe);

    /// <summary>The connection string, or the test is ignored (locally) or failed (CI) with how to start a server.</summary>
    public static string ConnectionString()
    {
        var value = Environment.GetEnvironmentVariable("PRESENCE_POSTGRES");
        string? problem = string.IsNullOrWhiteSpace(value) ? "PRESENCE_POSTGRES is not set" : Reachable.Value;
        if (problem is null)
        {
            return value!;
        }

        string message = $"PostgreSQL tests need a server: {problem}; {HowToStart}.";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(message);
        }

        Assert.Ignore(message);
        return null!;
    }

    /// <summary>A fresh schema name for one test.</summary>
    public static string NewSchema() => "t_" + Guid.NewGuid().ToString("N")[..16];

    public static NpgsqlDataSource NewDataSource() => NpgsqlDataSource.Create(ConnectionString());

    public static async Task DropSchemaAsync(string schema)
    {
        await using var dataSource = NewDataSource();
        await using var command = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<T> ScalarAsync<T>(string sql)
    {
        await using var dataSource = NewDataSource();
        await using var command = dataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public static async Task ExecuteAsync(string sql)
    {
        await using var dataSource = NewDataSource();
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Stops the server (<c>.ci/postgres.sh pause</c>); connections break.</summary>
    public static Task PauseAsync() => RunScriptAsync("pause");

    /// <summary>Starts it again on the same port (<c>.ci/postgres.sh resume</c>).</summary>
    public static Task ResumeAsync() => RunScriptAsync("resume");

    private static async Task RunScriptAsync(string command)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PRESENCE_POSTGRES_STATE")))
        {
            Assert.Ignore("Stopping and starting the server needs PRESENCE_POSTGRES_STATE, which .ci/postgres.sh start exports.");
        }

        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot(), ".ci", "postgres.sh"), command]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        string error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.That(process.ExitCode, Is.Zero, $".ci/postgres.sh {command} failed: {error}");
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Presence.Core.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Presence.Core.sln not found above " + AppContext.BaseDirectory);
    }

    private static string? Probe()
    {
        try
        {
            using var dataSource = NpgsqlDataSource.Create(Environment.GetEnvironmentVariable("PRESENCE_POSTGRES")!);
            using var connection = dataSource.OpenConnection();
            return null;
        }
        catch (Exception ex) when (ex is NpgsqlException or ArgumentException or InvalidOperationException)
        {
            return "the server in PRESENCE_POSTGRES is not reachable (" + ex.Message + ")";
        }
    }
}
