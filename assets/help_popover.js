/* The help popover of every "?" button (layouts/glossary.py help_icon): one popover for the whole page, drawn here
 * from the button's data-help ([[term, definition], ...]) when it is hovered, focused, clicked or tapped, and
 * removed when the pointer leaves an unfocused button, the button loses focus, Escape is pressed or a click or tap
 * lands elsewhere. The definitions are written as text (textContent), never as HTML.
 *
 * One popover in the browser instead of a dbc.Popover (and its body and paragraphs) per button in the layout:
 * a chart card or KPI card costs Dash's renderer one component for its help instead of five or more, and the
 * renderer's work on every filter change grows with the number of components on the page. */
(function () {
    'use strict';
    var POPOVER_ID = 'help-popover';
    var MARGIN = 8;  // px kept between the popover and the window's edges
    var open = null;  // {button, popover} of the popover shown

    function helpButton(target) {
        return target && target.closest ? target.closest('.help-icon[data-help]') : null;
    }

    function entries(button) {
        try {
            var parsed = JSON.parse(button.getAttribute('data-help') || '[]');
            return Array.isArray(parsed) ? parsed : [];
        } catch (err) {
            return [];
        }
    }

    function hide() {
        if (!open) { return; }
        open.popover.remove();
        open.button.removeAttribute('aria-describedby');
        open = null;
    }

    function place(button, popover) {
        var box = button.getBoundingClientRect();
        var width = popover.offsetWidth, height = popover.offsetHeight;
        var viewWidth = document.documentElement.clientWidth, viewHeight = window.innerHeight;
        var centre = box.left + box.width / 2;
        var left = Math.max(MARGIN, Math.min(centre - width / 2, viewWidth - width - MARGIN));
        var below = box.bottom + MARGIN;
        var above = box.top - height - MARGIN;
        var onTop = below + height > viewHeight && above >= 0;
        popover.classList.toggle('bs-popover-bottom', !onTop);
        popover.classList.toggle('bs-popover-top', onTop);
        popover.style.left = (left + window.scrollX) + 'px';
        popover.style.top = ((onTop ? above : below) + window.scrollY) + 'px';
        var arrow = popover.querySelector('.popover-arrow');
        arrow.style.left = Math.max(MARGIN, Math.min(centre - left, width - MARGIN)) - arrow.offsetWidth / 2 + 'px';
    }

    function show(button) {
        if (open && open.button === button) { return; }
        hide();
        var popover = document.createElement('div');
        popover.id = POPOVER_ID;
        popover.className = 'popover help-popover bs-popover-bottom';
        popover.setAttribute('role', 'tooltip');
        popover.style.position = 'absolute';
        var arrow = document.createElement('div');
        arrow.className = 'popover-arrow';
        arrow.style.position = 'absolute';
        var body = document.createElement('div');
        body.className = 'popover-body';
        entries(button).forEach(function (entry) {
            var paragraph = document.createElement('p');
            paragraph.className = 'help-term mb-1';
            if (entry[0]) {
                var name = document.createElement('strong');
                name.textContent = entry[0] + ': ';
                paragraph.appendChild(name);
            }
            paragraph.appendChild(document.createTextNode(entry[1] || ''));
            body.appendChild(paragraph);
        });
        popover.appendChild(arrow);
        popover.appendChild(body);
        document.body.appendChild(popover);
        place(button, popover);
        button.setAttribute('aria-describedby', POPOVER_ID);
        open = {button: button, popover: popover};
    }

    document.addEventListener('mouseover', function (event) {
        var button = helpButton(event.target);
        if (button) { show(button); }
    });
    document.addEventListener('mouseout', function (event) {
        var button = helpButton(event.target);
        if (button && open && open.button === button && !button.contains(event.relatedTarget)
                && document.activeElement !== button) {
            hide();
        }
    });
    document.addEventListener('focusin', function (event) {
        var button = helpButton(event.target);
        if (button) { show(button); }
    });
    document.addEventListener('focusout', function (event) {
        var button = helpButton(event.target);
        if (button && open && open.button === button) { hide(); }
    });
    document.addEventListener('click', function (event) {
        var button = helpButton(event.target);
        if (button) { show(button); return; }
        if (open && !open.popover.contains(event.target)) { hide(); }
    });
    document.addEventListener('keydown', function (event) {
        if (event.key === 'Escape') { hide(); }
    });
    window.addEventListener('resize', function () {
        if (open) { place(open.button, open.popover); }
    });
    window.addEventListener('popstate', hide);
}());
