"""Domain errors: each has a stable code, an HTTP status and a French message."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of the errors a caller can act on; `message` is shown to users as is, once
    its `{contact}` (where it sends people to the support cell) holds the cell's contact
    details (`to_json(contact=…)`)."""

    status = 400
    code = "bad_request"
    message = "La demande est invalide."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details

    def to_json(self, contact: str = "") -> dict[str, Any]:
        message = self.message.replace(" {contact}", f" {contact}" if contact else "")
        error: dict[str, Any] = {"code": self.code, "message": message}
        error.update(self.details)
        return {"error": error}


class InvalidJson(ServiceError):
    code = "invalid_json"
    message = "Le corps de la requête n'est pas un JSON valide."


class InvalidField(ServiceError):
    status = 422
    code = "invalid_field"
    message = "Certains champs sont absents ou invalides."


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"
    message = "La requête est trop volumineuse."


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"
    message = "Authentification requise : jeton d'accès absent ou invalide."


class NotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "Cette ressource n'existe pas."


class MethodNotAllowed(ServiceError):
    status = 405
    code = "method_not_allowed"
    message = "Cette méthode n'est pas permise pour cette adresse."


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"
    message = "Le corps de la requête doit être envoyé en JSON (Content-Type: application/json)."


class CompanyNotVerified(ServiceError):
    status = 422
    code = "company_not_verified"
    message = (
        "Nous ne retrouvons pas de contrat correspondant à ce numéro SIREN et à ce numéro "
        "de contrat. Vérifiez les deux numéros : le numéro de contrat figure sur vos "
        "conditions particulières et sur vos avis d'échéance."
    )


class TooManyAttempts(ServiceError):
    status = 429
    code = "too_many_attempts"
    message = (
        "Trop de tentatives infructueuses. Par sécurité, veuillez réessayer dans quelques "
        "minutes ou contacter notre cellule dédiée aux espaces clients {contact}."
    )


class EmailTaken(ServiceError):
    status = 409
    code = "email_taken"
    message = (
        "Cette adresse e-mail est déjà associée à une autre personne. Une adresse e-mail "
        "ne peut appartenir qu'à une seule personne physique : indiquez votre adresse "
        "professionnelle personnelle (par exemple prenom.nom@entreprise.fr)."
    )


class AlreadyRegistered(ServiceError):
    status = 409
    code = "already_registered"
    message = (
        "Un espace client existe déjà pour cette adresse e-mail et cette entreprise. "
        "Si vous n'avez pas reçu l'e-mail d'activation, vous pouvez demander un nouvel envoi."
    )


class IdempotencyConflict(ServiceError):
    status = 409
    code = "idempotency_conflict"
    message = (
        "Cette clé d'idempotence a déjà servi pour une autre demande d'inscription ; "
        "utilisez une nouvelle clé."
    )


class InternalError(ServiceError):
    status = 500
    code = "internal_error"
    message = "Une erreur interne est survenue. Veuillez réessayer dans quelques instants."


class MissingIdempotencyKey(ServiceError):
    code = "missing_idempotency_key"
    message = (
        "L'en-tête Idempotency-Key est obligatoire (1 à 128 caractères) : réutilisez la même "
        "valeur pour réessayer une inscription sans créer deux comptes."
    )


class InvalidUpload(ServiceError):
    code = "invalid_upload"
    message = (
        "Le fichier n'a pas pu être reçu : envoyez-le en multipart/form-data, dans le champ "
        "« file », avec l'identifiant de conversation dans le champ « sender_id »."
    )


class TooManyUploads(ServiceError):
    status = 429
    code = "too_many_uploads"
    message = (
        "Vous avez envoyé beaucoup de fichiers en peu de temps. Par sécurité, veuillez "
        "réessayer dans quelques minutes."
    )


class DocumentNotAccepted(ServiceError):
    """The identity document was refused by the inspection; `reason` says why."""

    status = 422
    code = "document_refused"
    message = "Ce fichier ne peut pas être accepté comme pièce d'identité."


class DocumentUnavailable(ServiceError):
    status = 422
    code = "document_unavailable"
    message = (
        "Nous ne retrouvons pas votre pièce d'identité : elle est inconnue ou a expiré. "
        "Veuillez l'envoyer à nouveau."
    )


class DocumentAttached(ServiceError):
    status = 409
    code = "document_attached"
    message = (
        "Cette pièce d'identité est déjà rattachée à un espace client : elle ne peut plus "
        "être supprimée."
    )


class UnknownHandoffReason(ServiceError):
    code = "unknown_reason"
    message = (
        "Le motif de la mise en relation est inconnu : il doit valoir « user_request », "
        "« repeated_failures », « service_unavailable », « misunderstanding » ou "
        "« registration_refused »."
    )


class LoginRequired(ServiceError):
    """No valid agent session: the console asks the advisor to log in again."""

    status = 401
    code = "login_required"
    message = "Votre session a expiré ou vous n'êtes pas connecté : reconnectez-vous à la console."


class ForbiddenOrigin(ServiceError):
    status = 403
    code = "forbidden_origin"
    message = (
        "Cette action doit être faite depuis la console des conseillers : la requête vient "
        "d'une autre origine et a été refusée."
    )


class NotYourHandoff(ServiceError):
    status = 403
    code = "not_your_handoff"
    message = (
        "Seul le conseiller qui a pris en charge cette conversation peut y répondre ou la clôturer."
    )


class HandoffConflict(ServiceError):
    """The handoff's status does not allow the action (taken by someone else, closed…)."""

    status = 409
    code = "handoff_conflict"
    message = "Cette action n'est plus possible : la conversation a changé d'état."


class AssistantUnavailable(ServiceError):
    """The Rasa server did not answer, or refused the call."""

    status = 502
    code = "assistant_unavailable"
    message = (
        "L'assistant virtuel ne répond pas : l'action n'a pas été transmise au client. "
        "Réessayez dans quelques instants."
    )


class TooManyLogins(TooManyAttempts):
    """Failed logins to the agent console, throttled; shown on the login page."""

    message = (
        "Trop de tentatives de connexion infructueuses. Par sécurité, réessayez dans "
        "quelques minutes."
    )
