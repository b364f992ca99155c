using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Presence;
using Presence.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Runs the presence engine inside a .NET generic host: configuration, start and stop with the host, health.</summary>
public static class PresenceHostingExtensions
{
    private const string BindingNeedsReflection = "Binding PresenceOptions from configuration uses the reflection-based configuration binder; set the options in code (AddPresence(o => ...)) for trimmed or native AOT apps.";

    /// <summary>
    /// Registers the presence engine with its options bound from <paramref name="configuration"/> (for example
    /// <c>builder.Configuration.GetSection("Presence")</c>), started and stopped with the host
    /// (<see cref="AddHostedService"/>). Durations are <c>[d.]hh:mm:ss</c>; <c>ServerName</c> is a server name such as
    /// <c>example.org</c>; <c>ExcludedRooms</c> is an array of room IDs; <c>Federation</c> is a nested section.
    /// Validated when the host starts: every invalid option is named.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration section of the presence options.</param>
    /// <returns>A builder to choose the store and membership view.</returns>
    [RequiresUnreferencedCode(BindingNeedsReflection)]
    [RequiresDynamicCode(BindingNeedsReflection)]
    public static IPresenceBuilder AddPresence(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddPresence().BindConfiguration(configuration).AddHostedService();
    }

    /// <summary>
    /// Binds the presence options from <paramref name="configuration"/>, after any earlier configuration and before any later
    /// one. A value that does not convert (a bad server name, a malformed duration) fails when the options are first read
    /// (at host start) with a message naming the configuration key and what is wrong.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configuration">The configuration section of the presence options.</param>
    /// <returns>The builder.</returns>
    [RequiresUnreferencedCode(BindingNeedsReflection)]
    [RequiresDynamicCode(BindingNeedsReflection)]
    public static IPresenceBuilder BindConfiguration(this IPresenceBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        builder.Services.AddOptions<PresenceOptions>().Configure(options => Bind(configuration, options));
        return builder;
    }

    /// <summary>
    /// Binds the presence options from the section at <paramref name="sectionPath"/> of the host's
    /// <see cref="IConfiguration"/> (as <see cref="BindConfiguration(IPresenceBuilder, IConfiguration)"/>).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="sectionPath">The section's path, such as <c>Presence</c>; nested sections are separated by <c>:</c>.</param>
    /// <returns>The builder.</returns>
    [RequiresUnreferencedCode(BindingNeedsReflection)]
    [RequiresDynamicCode(BindingNeedsReflection)]
    public static IPresenceBuilder BindConfiguration(this IPresenceBuilder builder, string sectionPath)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(sectionPath);
        builder.Services.AddOptions<PresenceOptions>().Configure<IConfiguration>((options, configuration) => Bind(configuration.GetSection(sectionPath), options));
        return builder;
    }

    /// <summary>
    /// Starts the engine with the host, before any hosted service's <c>StartAsync</c> (the web server's included), and
    /// stops it after them on shutdown, saving pending changes within <see cref="PresenceOptions.ShutdownTimeout"/>. The
    /// host no longer calls <see cref="IPresenceEngine.StartAsync"/> or disposes the engine itself. Calling it again
    /// registers nothing more.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder AddHostedService(this IPresenceBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PresenceHostedService>());
        return builder;
    }

    /// <summary>
    /// Adds the presence health check: unhealthy while the engine is not running; degraded while store saves fail, peer
    /// servers fail, or a queue is over its threshold; its data has <c>started</c>, <c>store</c>,
    /// <c>store_consecutive_failures</c>, <c>failing_peers</c>, <c>outbound_queue_depth</c>, <c>unsaved_users</c> and
    /// <c>loads_pending</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="configure">Sets the thresholds; the defaults otherwise.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="tags">Tags to filter checks by (for example <c>ready</c>).</param>
    /// <returns>The health checks builder.</returns>
    public static IHealthChecksBuilder AddPresence(this IHealthChecksBuilder builder, Action<PresenceHealthCheckOptions>? configure = null, string name = "presence", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (configure is not null)
        {
            builder.Services.Configure(name, configure);
        }

        return builder.Add(new HealthCheckRegistration(
            name,
            provider => new PresenceHealthCheck(provider.GetRequiredService<IPresenceEngine>(), provider.GetRequiredService<IOptionsMonitor<PresenceHealthCheckOptions>>(), name),
            failureStatus: HealthStatus.Unhealthy,
            tags));
    }

    /// <summary>Adds health checks with the presence check (<see cref="AddPresence(IHealthChecksBuilder, Action{PresenceHealthCheckOptions}?, string, IEnumerable{string}?)"/>).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Sets the thresholds; the defaults otherwise.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder AddPresenceHealthCheck(this IPresenceBuilder builder, Action<PresenceHealthCheckOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!builder.Services.Any(static d => d.ServiceType == typeof(PresenceHealthCheckMarker)))
        {
            builder.Services.AddSingleton<PresenceHealthCheckMarker>();
            builder.Services.AddHealthChecks().AddPresence(configure);
        }
        else if (configure is not null)
        {
            builder.Services.Configure("presence", configure);
        }

        return builder;
    }

    [RequiresUnreferencedCode(BindingNeedsReflection)]
    [RequiresDynamicCode(BindingNeedsReflection)]
    private static void Bind(IConfiguration configuration, PresenceOptions options)
    {
        try
        {
            configuration.Bind(options);
        }
        catch (InvalidOperationException ex) when (ex.InnerException is not null)
        {
            // The binder names the key ("at 'Presence:ServerName'"); the converter says what is wrong. Say both at once.
            throw new InvalidOperationException($"{ex.Message} {ex.InnerException.Message}", ex);
        }
    }

    /// <summary>Marks that <see cref="AddPresenceHealthCheck"/> registered the check, so a second call adds no second check.</summary>
    private sealed class PresenceHealthCheckMarker;
}
