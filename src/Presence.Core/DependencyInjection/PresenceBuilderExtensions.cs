using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Presence;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Chooses the store, presence-list store, membership view and transport of the presence engine. Each comes in three
/// forms: a type (<c>Use…&lt;T&gt;()</c>: the host's own registration of <c>T</c> when there is one, never a second
/// instance of it; otherwise <c>T</c> is registered as a singleton), an instance, and a factory. Calling one again
/// replaces the earlier choice.
/// </summary>
public static class PresenceBuilderExtensions
{
    /// <summary>Uses <typeparamref name="TStore"/> as the store, replacing the in-memory default.</summary>
    /// <typeparam name="TStore">The store type: the host's registration of it when there is one, otherwise a singleton.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseStore<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStore>(this IPresenceBuilder builder)
        where TStore : class, IPresenceStore
        => Use<IPresenceStore, TStore>(builder);

    /// <summary>Uses an existing store instance, replacing the in-memory default. The container does not dispose it.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="store">The store.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseStore(this IPresenceBuilder builder, IPresenceStore store)
        => Use(builder, store);

    /// <summary>Uses the store <paramref name="factory"/> creates (once), replacing the in-memory default.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="factory">Creates the store from the host's services.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseStore(this IPresenceBuilder builder, Func<IServiceProvider, IPresenceStore> factory)
        => Use(builder, factory);

    /// <summary>Uses <typeparamref name="TStore"/> to persist presence lists, replacing the in-memory default.</summary>
    /// <typeparam name="TStore">The store type: the host's registration of it when there is one, otherwise a singleton.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseListStore<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStore>(this IPresenceBuilder builder)
        where TStore : class, IPresenceListStore
        => Use<IPresenceListStore, TStore>(builder);

    /// <summary>Uses an existing presence-list store instance, replacing the in-memory default. The container does not dispose it.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="store">The store.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseListStore(this IPresenceBuilder builder, IPresenceListStore store)
        => Use(builder, store);

    /// <summary>Uses the presence-list store <paramref name="factory"/> creates (once), replacing the in-memory default.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="factory">Creates the store from the host's services.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseListStore(this IPresenceBuilder builder, Func<IServiceProvider, IPresenceListStore> factory)
        => Use(builder, factory);

    /// <summary>Uses <typeparamref name="TStore"/> to persist the subscriptions other servers hold to our users, replacing the in-memory default.</summary>
    /// <typeparam name="TStore">The store type: the host's registration of it when there is one, otherwise a singleton.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UsePeerSubscriptionStore<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStore>(this IPresenceBuilder builder)
        where TStore : class, IPeerSubscriptionStore
        => Use<IPeerSubscriptionStore, TStore>(builder);

    /// <summary>Uses an existing peer-subscription store instance, replacing the in-memory default. The container does not dispose it.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="store">The store.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UsePeerSubscriptionStore(this IPresenceBuilder builder, IPeerSubscriptionStore store)
        => Use(builder, store);

    /// <summary>Uses the peer-subscription store <paramref name="factory"/> creates (once), replacing the in-memory default.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="factory">Creates the store from the host's services.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UsePeerSubscriptionStore(this IPresenceBuilder builder, Func<IServiceProvider, IPeerSubscriptionStore> factory)
        => Use(builder, factory);

    /// <summary>Uses <typeparamref name="TView"/> as the membership view.</summary>
    /// <typeparam name="TView">
    /// The view type: the host's own registration of it when there is one (the engine shares the host's singleton),
    /// otherwise a singleton.
    /// </typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseMembershipView<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TView>(this IPresenceBuilder builder)
        where TView : class, IMembershipView
        => Use<IMembershipView, TView>(builder);

    /// <summary>Uses an existing membership view instance. The container does not dispose it.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="view">The view.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseMembershipView(this IPresenceBuilder builder, IMembershipView view)
        => Use(builder, view);

    /// <summary>Uses the membership view <paramref name="factory"/> creates (once).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="factory">Creates the view from the host's services.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseMembershipView(this IPresenceBuilder builder, Func<IServiceProvider, IMembershipView> factory)
        => Use(builder, factory);

    /// <summary>Uses <typeparamref name="TTransport"/> to reach other servers; without a transport presence stays local.</summary>
    /// <typeparam name="TTransport">The transport type: the host's registration of it when there is one, otherwise a singleton.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseTransport<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TTransport>(this IPresenceBuilder builder)
        where TTransport : class, IPresenceTransport
        => Use<IPresenceTransport, TTransport>(builder);

    /// <summary>Uses an existing transport instance to reach other servers. The container does not dispose it.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="transport">The transport.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseTransport(this IPresenceBuilder builder, IPresenceTransport transport)
        => Use(builder, transport);

    /// <summary>Uses the transport <paramref name="factory"/> creates (once) to reach other servers.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="factory">Creates the transport from the host's services.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseTransport(this IPresenceBuilder builder, Func<IServiceProvider, IPresenceTransport> factory)
        => Use(builder, factory);

    /// <summary>
    /// The engine's <typeparamref name="TService"/> is whatever the container resolves for <typeparamref name="TImplementation"/>:
    /// the host's own registration of it when there is one (before or after this call: the last registration wins), else a
    /// singleton registered here. So a view the host also uses is one instance, not two.
    /// </summary>
    private static IPresenceBuilder Use<TService, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TImplementation>(IPresenceBuilder builder)
        where TService : class
        where TImplementation : class, TService
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.RemoveAll<TService>();
        builder.Services.TryAddSingleton<TImplementation>();
        builder.Services.AddSingleton<TService>(static provider => provider.GetRequiredService<TImplementation>());
        return builder;
    }

    private static IPresenceBuilder Use<TService>(IPresenceBuilder builder, TService instance)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(instance);
        builder.Services.RemoveAll<TService>();
        builder.Services.AddSingleton(instance);
        return builder;
    }

    private static IPresenceBuilder Use<TService>(IPresenceBuilder builder, Func<IServiceProvider, TService> factory)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.RemoveAll<TService>();
        builder.Services.AddSingleton(factory);
        return builder;
    }
}
