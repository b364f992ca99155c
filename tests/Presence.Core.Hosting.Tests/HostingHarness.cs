using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Presence.Core.Hosting.Tests;

/// <summary>A real generic host on a fake clock, with presence options from an in-memory configuration.</summary>
internal static class HostingHarness
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static readonly UserId Alice = UserId.Parse("@alice:example.org");

    public static HostApplicationBuilder CreateBuilder(FakeTimeProvider clock, IDictionary<string, string?>? presence = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var settings = new Dictionary<string, string?> { ["Presence:ServerName"] = "example.org" };
        foreach (var (key, value) in presence ?? new Dictionary<string, string?>())
        {
            settings["Presence:" + key] = value;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSingleton<TimeProvider>(clock);
        return builder;
    }

    /// <summary>Starts a host and returns what it threw, or <see langword="null"/>; stops and disposes it either way.</summary>
    public static async Task<Exception?> StartFailureAsync(IHost host)
    {
        try
        {
            await host.StartAsync();
            await host.StopAsync();
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
        finally
        {
            host.Dispose();
        }
    }

    /// <summary>An exception's message with those of every inner exception.</summary>
    public static string FullMessage(Exception error)
    {
        var parts = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            parts.Add(e.Message);
        }

        return string.Join(" | ", parts);
    }
}
