using Microsoft.AspNetCore.Http;
using Presence.Internal;

namespace Presence;

/// <summary>Authentication for the host's own Matrix client endpoints (its <c>/sync</c>, for example), with the same rules as the presence endpoints.</summary>
public static class MatrixAuthenticatorExtensions
{
    /// <summary>
    /// Authenticates a client request: takes the access token from <c>Authorization: Bearer</c> or <c>access_token</c> and
    /// asks the authenticator. On failure it writes the 401 response (<c>M_MISSING_TOKEN</c> or <c>M_UNKNOWN_TOKEN</c>) and
    /// returns <see langword="null"/>: the caller just returns.
    /// </summary>
    /// <param name="authenticator">The host's authenticator.</param>
    /// <param name="context">The request.</param>
    /// <returns>The client, or <see langword="null"/> when the 401 was written.</returns>
    public static async ValueTask<MatrixClient?> AuthenticateRequestAsync(this IMatrixAuthenticator authenticator, HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(authenticator);
        ArgumentNullException.ThrowIfNull(context);
        var (client, failure) = await PresenceEndpoints.AuthenticateAsync(authenticator, context).ConfigureAwait(false);
        if (failure is not null)
        {
            await failure.ExecuteAsync(context).ConfigureAwait(false);
        }

        return client;
    }
}
