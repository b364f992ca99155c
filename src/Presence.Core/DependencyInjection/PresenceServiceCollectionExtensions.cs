using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Presence;
using Presence.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the presence engine in a service collection.</summary>
public static class PresenceServiceCollectionExtensions
{
    /// <summary>
    /// Registers the presence engine as a singleton <see cref="IPresenceEngine"/>, with the in-memory store and
    /// <see cref="TimeProvider.System"/> unless others are registered. A membership view must be registered
    /// (<see cref="PresenceBuilderExtensions.UseMembershipView{TView}(IPresenceBuilder)"/>). The options come from
    /// <see cref="IOptions{TOptions}"/>: <paramref name="configure"/>, <c>services.Configure&lt;PresenceOptions&gt;(…)</c> and
    /// configuration binding all apply, in registration order. They are validated when the host starts
    /// (<c>ValidateOnStart</c>) or when the engine is first resolved, and every failure names its option. Calling it again
    /// adds the configuration and registers nothing twice.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options; <see cref="PresenceOptions.ServerName"/> is required.</param>
    /// <returns>A builder to choose the store and membership view.</returns>
    public static IPresenceBuilder AddPresence(this IServiceCollection services, Action<PresenceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<PresenceOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (!services.Any(static d => d.ServiceType == typeof(IValidateOptions<PresenceOptions>) && d.ImplementationType == typeof(PresenceOptionsValidator)))
        {
            services.AddSingleton<IValidateOptions<PresenceOptions>, PresenceOptionsValidator>();
            options.ValidateOnStart();
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IPresenceStore, InMemoryPresenceStore>();
        services.TryAddSingleton<IPresenceListStore, InMemoryPresenceListStore>();
        services.TryAddSingleton<IPeerSubscriptionStore, InMemoryPeerSubscriptionStore>();
        services.TryAddSingleton(static provider => provider.GetRequiredService<IOptions<PresenceOptions>>().Value);
        services.TryAddSingleton(static provider => PresenceEngine.Create(
            provider.GetRequiredService<IOptions<PresenceOptions>>().Value,
            provider.GetService<IMembershipView>()
                ?? throw new InvalidOperationException("No IMembershipView is registered; call UseMembershipView on the builder AddPresence returns."),
            provider.GetRequiredService<IPresenceStore>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<IMeterFactory>(),
            provider.GetService<IPresenceTransport>(),
            provider.GetRequiredService<IPresenceListStore>(),
            provider.GetRequiredService<IPeerSubscriptionStore>()));
        return new PresenceBuilder(services);
    }
}
