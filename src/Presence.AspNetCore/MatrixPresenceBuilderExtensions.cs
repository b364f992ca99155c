using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Presence;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the host's authentication for the Matrix presence endpoints, and the <c>/sync</c> helper.</summary>
public static class MatrixPresenceBuilderExtensions
{
    /// <summary>
    /// Uses <typeparamref name="TAuthenticator"/> to authenticate requests to the presence endpoints, and registers
    /// <see cref="MatrixPresenceSync"/>. The host's own registration of <typeparamref name="TAuthenticator"/> is used when there
    /// is one (one instance, not two); otherwise a singleton is registered here.
    /// </summary>
    /// <typeparam name="TAuthenticator">The host's authenticator.</typeparam>
    /// <param name="builder">The presence builder.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseMatrixAuthenticator<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TAuthenticator>(this IPresenceBuilder builder)
        where TAuthenticator : class, IMatrixAuthenticator
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.RemoveAll<IMatrixAuthenticator>();
        builder.Services.TryAddSingleton<TAuthenticator>();
        builder.Services.AddSingleton<IMatrixAuthenticator>(static services => services.GetRequiredService<TAuthenticator>());
        return AddSync(builder);
    }

    /// <summary>Uses an existing authenticator instance for the presence endpoints, and registers <see cref="MatrixPresenceSync"/>.</summary>
    /// <param name="builder">The presence builder.</param>
    /// <param name="authenticator">The host's authenticator.</param>
    /// <returns>The builder.</returns>
    public static IPresenceBuilder UseMatrixAuthenticator(this IPresenceBuilder builder, IMatrixAuthenticator authenticator)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(authenticator);
        builder.Services.RemoveAll<IMatrixAuthenticator>();
        builder.Services.AddSingleton(authenticator);
        return AddSync(builder);
    }

    private static IPresenceBuilder AddSync(IPresenceBuilder builder)
    {
        builder.Services.TryAddSingleton(static services => new MatrixPresenceSync(services.GetRequiredService<IPresenceEngine>(), services.GetService<TimeProvider>()));
        return builder;
    }
}
