using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Presence;
using Presence.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Matrix presence endpoints onto an ASP.NET Core app.</summary>
public static class MatrixPresenceEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET</c> and <c>PUT /_matrix/client/v3/presence/{userId}/status</c> (and, by default, the legacy <c>r0</c>
    /// paths) and, when <see cref="MatrixPresenceEndpointOptions.MapFederation"/> is set, <c>PUT /_matrix/federation/v1/send/{txnId}</c>.
    /// Requests are authenticated by the registered <see cref="IMatrixAuthenticator"/> (<c>UseMatrixAuthenticator</c>);
    /// errors are Matrix error bodies: 401 <c>M_MISSING_TOKEN</c> / <c>M_UNKNOWN_TOKEN</c>, 400 <c>M_INVALID_PARAM</c> /
    /// <c>M_BAD_JSON</c>, 403 <c>M_FORBIDDEN</c>, 404 <c>M_NOT_FOUND</c>, 413 <c>M_TOO_LARGE</c>, 429 <c>M_LIMIT_EXCEEDED</c>.
    /// </summary>
    /// <param name="endpoints">The app.</param>
    /// <param name="configure">Changes the endpoint options.</param>
    /// <returns>A builder for conventions that apply to every mapped endpoint.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="IPresenceEngine"/> or <see cref="IMatrixAuthenticator"/> is registered.</exception>
    public static IEndpointConventionBuilder MapMatrixPresence(this IEndpointRouteBuilder endpoints, Action<MatrixPresenceEndpointOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = new MatrixPresenceEndpointOptions();
        configure?.Invoke(options);
        options.Validate();
        var services = endpoints.ServiceProvider;
        var authenticator = services.GetService<IMatrixAuthenticator>()
            ?? throw new InvalidOperationException("No IMatrixAuthenticator is registered: call UseMatrixAuthenticator on the presence builder.");
        var handlers = new PresenceEndpoints(
            services.GetRequiredService<IPresenceEngine>(),
            authenticator,
            options,
            services.GetService<TimeProvider>() ?? TimeProvider.System,
            services.GetService<ILoggerFactory>()?.CreateLogger("Presence.AspNetCore") ?? NullLogger.Instance,
            new EndpointInstruments(services.GetService<IMeterFactory>()));

        var group = endpoints.MapGroup(string.Empty);
        foreach (string prefix in options.MapLegacyR0Paths ? new[] { "v3", "r0" } : ["v3"])
        {
            group.MapGet($"/_matrix/client/{prefix}/presence/{{userId}}/status", context => handlers.RunAsync(context, "status.get", handlers.GetStatusAsync(context, Route(context, "userId"))));
            group.MapPut($"/_matrix/client/{prefix}/presence/{{userId}}/status", context => handlers.RunAsync(context, "status.put", handlers.PutStatusAsync(context, Route(context, "userId"))));
        }

        if (options.MapFederation)
        {
            group.MapPut("/_matrix/federation/v1/send/{txnId}", context => handlers.RunAsync(context, "federation.send", handlers.ReceiveTransactionAsync(context, Route(context, "txnId"))));
        }

        return group;
    }

    /// <summary>Answers every request no endpoint matched with 404 <c>M_UNRECOGNIZED</c>, as a Matrix server must (an empty 404 makes clients give up).</summary>
    /// <param name="endpoints">The app.</param>
    /// <returns>A builder for the fallback endpoint.</returns>
    public static IEndpointConventionBuilder MapMatrixUnrecognized(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapFallback(static context => MatrixResults.UnrecognizedEndpoint().ExecuteAsync(context));
    }

    private static string Route(HttpContext context, string name) => context.Request.RouteValues[name] as string ?? string.Empty;
}
