"""The model browser: the catalog grouped by organization and family, with search and filters
(year range, architecture feature)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QSpinBox, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from models.catalog import PROVENANCE_TEXT
from widgets.steady import narrow_combo

MUTED = "#8a8d91"   # readable on the light and the dark theme


class ModelBrowser(QWidget):
    """``entries``: dicts with id, name, organization, family, year, features, has_spec."""

    modelActivated = Signal(str)

    def __init__(self, entries: list[dict], features: tuple[str, ...], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("modelBrowser")
        self._entries = entries
        layout = QVBoxLayout(self)
        self.search = QLineEdit(objectName="modelSearch", placeholderText="Search models…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        row = QHBoxLayout()
        self.feature = QComboBox(objectName="featureFilter")
        self.feature.addItem("All architectures", "")
        for f in features:
            self.feature.addItem(f, f)
        years = [e["year"] for e in entries] or [2019]
        self.year_from = QSpinBox(objectName="yearFrom", minimum=min(years), maximum=max(years),
                                  value=min(years))
        self.year_to = QSpinBox(objectName="yearTo", minimum=min(years), maximum=max(years),
                                value=max(years))
        narrow_combo(self.feature, 6)
        layout.addWidget(self.feature)      # a row of its own: beside the years it was cut short
        row.addWidget(QLabel("Released"))
        row.addWidget(self.year_from, 1)
        row.addWidget(QLabel("–"))
        row.addWidget(self.year_to, 1)
        layout.addLayout(row)
        self.tree = QTreeWidget(objectName="modelTree")
        self.tree.setHeaderLabels(["Model", "Released"])
        header = self.tree.header()      # dates whole; names take the rest and elide
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.tree, 1)
        self.count = QLabel(objectName="modelCount")
        layout.addWidget(self.count)
        self.search.textChanged.connect(self.refresh)
        self.feature.currentIndexChanged.connect(self.refresh)
        self.year_from.valueChanged.connect(self.refresh)
        self.year_to.valueChanged.connect(self.refresh)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemDoubleClicked.connect(self._activated)
        self.refresh()

    def _matches(self, e: dict) -> bool:
        text = self.search.text().strip().lower()
        if text and not any(text in str(e[k]).lower() for k in ("id", "name", "organization", "family")):
            return False
        feature = self.feature.currentData()
        if feature and feature not in e["features"]:
            return False
        return self.year_from.value() <= e["year"] <= self.year_to.value()

    def refresh(self) -> None:
        self.tree.clear()
        orgs: dict[str, QTreeWidgetItem] = {}
        families: dict[tuple[str, str], QTreeWidgetItem] = {}
        shown = 0
        for e in sorted(self._entries, key=lambda e: (e["organization"].lower(), e["released"])):
            if not self._matches(e):
                continue
            shown += 1
            org = orgs.get(e["organization"])
            if org is None:
                org = orgs[e["organization"]] = QTreeWidgetItem(self.tree, [e["organization"]])
            fam = families.get((e["organization"], e["family"]))
            if fam is None:
                fam = families[(e["organization"], e["family"])] = QTreeWidgetItem(org, [e["family"]])
            item = QTreeWidgetItem(fam, [e["name"], e["released"]])
            item.setData(0, Qt.UserRole, e["id"])
            note = PROVENANCE_TEXT.get(e.get("provenance", "config" if e["has_spec"] else "none"), "")
            item.setToolTip(0, e["id"] + (f" — {note}" if note else ""))
            if not e["has_spec"]:
                item.setForeground(0, QColor(MUTED))
        self.tree.expandAll()
        self.count.setText(f"{shown} of {len(self._entries)} models")

    def visible_ids(self) -> list[str]:
        out = []
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            model_id = item.data(0, Qt.UserRole)
            if model_id:
                out.append(model_id)
            stack.extend(item.child(i) for i in range(item.childCount()))
        return out

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        model_id = item.data(0, Qt.UserRole)
        if model_id:
            self.modelActivated.emit(model_id)
