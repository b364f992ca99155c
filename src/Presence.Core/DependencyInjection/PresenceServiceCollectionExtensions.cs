using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Presence;
using Presence.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the presence engine in a service collection.</summary>
public static class PresenceServiceCollectionExtensions
{
    /// <summary>
    /// Registers the presence engine as a singleton <see cref="IPresenceEngine"/>, with the in-memory store and
    /// <see cref="TimeProvider.System"/> unless others are registered. A membership view must be registered
    /// (<see cref="PresenceBuilderExtensions.UseMembershipView{TView}(IPresenceBuilder)"/>). Calling it again adds
    /// the configuration and registers nothing twice.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options; <see cref="PresenceOptions.ServerName"/> is required.</param>
    /// <returns>A builder to choose the store and membership view.</returns>
    public static IPresenceBuilder AddPresence(this IServiceCollection services, Action<PresenceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (configure is not null)
        {
            services.AddSingleton(new PresenceOptionsConfiguration(configure));
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IPresenceStore, InMemoryPresenceStore>();
        services.TryAddSingleton<IPresenceListStore, InMemoryPresenceListStore>();
        services.TryAddSingleton<IPeerSubscriptionStore, InMemoryPeerSubscriptionStore>();
        services.TryAddSingleton(static provider =>
        {
            var options = new PresenceOptions();
            foreach (var configuration in provider.GetServices<PresenceOptionsConfiguration>())
            {
                configuration.Configure(options);
            }

            return options;
        });
        services.TryAddSingleton(static provider => PresenceEngine.Create(
            provider.GetRequiredService<PresenceOptions>(),
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
