using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Npgsql;
using Presence;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Stores presence, presence lists and peer subscriptions in PostgreSQL.</summary>
public static class PostgreSqlPresenceBuilderExtensions
{
    /// <summary>Uses PostgreSQL with the default options; see <see cref="UsePostgreSql(IPresenceBuilder, string, Action{PostgreSqlPresenceStoreOptions})"/>.</summary>
    /// <param name="builder">The builder <c>AddPresence</c> returned.</param>
    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UsePostgreSql(this IPresenceBuilder builder, string connectionString) => UsePostgreSql(builder, connectionString, null);

    /// <summary>Uses PostgreSQL over a data source the caller owns, with the default options; see <see cref="UsePostgreSql(IPresenceBuilder, NpgsqlDataSource, Action{PostgreSqlPresenceStoreOptions})"/>.</summary>
    /// <param name="builder">The builder <c>AddPresence</c> returned.</param>
    /// <param name="dataSource">The database.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UsePostgreSql(this IPresenceBuilder builder, NpgsqlDataSource dataSource) => UsePostgreSql(builder, dataSource, null);

    /// <summary>
    /// Uses one <see cref="PostgreSqlPresenceStore"/> as the presence store, the presence-list store and the peer-subscription
    /// store, replacing the in-memory defaults. The store creates (and owns) a data source for <paramref name="connectionString"/>.
    /// </summary>
    /// <param name="builder">The builder <c>AddPresence</c> returned.</param>
    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <param name="configure">Sets the store's options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="connectionString"/> is empty.</exception>
    public static IPresenceBuilder UsePostgreSql(this IPresenceBuilder builder, string connectionString, Action<PostgreSqlPresenceStoreOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return Register(builder, _ => NpgsqlDataSource.Create(connectionString), ownsDataSource: true, configure);
    }

    /// <summary>
    /// Uses one <see cref="PostgreSqlPresenceStore"/> over <paramref name="dataSource"/> (which the caller owns) as the presence
    /// store, the presence-list store and the peer-subscription store, replacing the in-memory defaults.
    /// </summary>
    /// <param name="builder">The builder <c>AddPresence</c> returned.</param>
    /// <param name="dataSource">The database.</param>
    /// <param name="configure">Sets the store's options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UsePostgreSql(this IPresenceBuilder builder, NpgsqlDataSource dataSource, Action<PostgreSqlPresenceStoreOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dataSource);
        return Register(builder, _ => dataSource, ownsDataSource: false, configure);
    }

    private static IPresenceBuilder Register(IPresenceBuilder builder, Func<IServiceProvider, NpgsqlDataSource> dataSource, bool ownsDataSource, Action<PostgreSqlPresenceStoreOptions>? configure)
    {
        var options = new PostgreSqlPresenceStoreOptions();
        configure?.Invoke(options);
        Presence.PostgreSql.Internal.OptionsValidator.ThrowIfInvalid(options); // now, where the mistake is
        var services = builder.Services;
        services.RemoveAll<PostgreSqlPresenceStore>();
        services.AddSingleton(provider => new PostgreSqlPresenceStore(
            dataSource(provider),
            ownsDataSource,
            options,
            provider.GetService<TimeProvider>(),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<IMeterFactory>()));
        services.RemoveAll<IPresenceStore>();
        services.RemoveAll<IPresenceListStore>();
        services.RemoveAll<IPeerSubscriptionStore>();
        services.AddSingleton<IPresenceStore>(static provider => provider.GetRequiredService<PostgreSqlPresenceStore>());
        services.AddSingleton(static provider => provider.GetRequiredService<PostgreSqlPresenceStore>().Lists);
        services.AddSingleton(static provider => provider.GetRequiredService<PostgreSqlPresenceStore>().PeerSubscriptions);
        return builder;
    }
}
