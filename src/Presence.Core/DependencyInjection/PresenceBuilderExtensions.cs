using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Presence;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses the store, membership view and transport of the presence engine.</summary>
public static class PresenceBuilderExtensions
{
    /// <summary>Uses <typeparamref name="TStore"/> as the store, replacing the in-memory default.</summary>
    /// <typeparam name="TStore">The store type, resolved as a singleton.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseStore<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStore>(this IPresenceBuilder builder)
        where TStore : class, IPresenceStore
        => Replace<IPresenceStore, TStore>(builder);

    /// <summary>Uses <typeparamref name="TStore"/> to persist presence lists, replacing the in-memory default.</summary>
    /// <typeparam name="TStore">The store type, resolved as a singleton.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseListStore<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStore>(this IPresenceBuilder builder)
        where TStore : class, IPresenceListStore
        => Replace<IPresenceListStore, TStore>(builder);

    /// <summary>Uses <typeparamref name="TStore"/> to persist the subscriptions other servers hold to our users, replacing the in-memory default.</summary>
    /// <typeparam name="TStore">The store type, resolved as a singleton.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UsePeerSubscriptionStore<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStore>(this IPresenceBuilder builder)
        where TStore : class, IPeerSubscriptionStore
        => Replace<IPeerSubscriptionStore, TStore>(builder);

    /// <summary>Uses <typeparamref name="TView"/> as the membership view.</summary>
    /// <typeparam name="TView">The view type, resolved as a singleton.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseMembershipView<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TView>(this IPresenceBuilder builder)
        where TView : class, IMembershipView
        => Replace<IMembershipView, TView>(builder);

    /// <summary>Uses an existing membership view instance.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="view">The view.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseMembershipView(this IPresenceBuilder builder, IMembershipView view)
        => Replace(builder, view);

    /// <summary>Uses <typeparamref name="TTransport"/> to reach other servers; without a transport presence stays local.</summary>
    /// <typeparam name="TTransport">The transport type, resolved as a singleton.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseTransport<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TTransport>(this IPresenceBuilder builder)
        where TTransport : class, IPresenceTransport
        => Replace<IPresenceTransport, TTransport>(builder);

    /// <summary>Uses an existing transport instance to reach other servers.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="transport">The transport.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseTransport(this IPresenceBuilder builder, IPresenceTransport transport)
        => Replace(builder, transport);

    private static IPresenceBuilder Replace<TService, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TImplementation>(IPresenceBuilder builder)
        where TService : class
        where TImplementation : class, TService
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.RemoveAll<TService>();
        builder.Services.AddSingleton<TService, TImplementation>();
        return builder;
    }

    private static IPresenceBuilder Replace<TService>(IPresenceBuilder builder, TService instance)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(instance);
        builder.Services.RemoveAll<TService>();
        builder.Services.AddSingleton(instance);
        return builder;
    }
}
